"""Reads a request's JSON body once, strictly: UTF-8 text (RFC 8259 section 8.1) holding a
document no deeper than any request of this API needs, whose strings are Unicode text.

Python's json module is lenient where this API must not be: it accepts UTF-16 and UTF-32
bodies and a byte order mark, the non-JSON constants NaN and Infinity, numbers that overflow
to infinity, and lone UTF-16 surrogates ("\\ud800") that no store or model can take. A
surrogate accepted here once crashed the worker after three paid model calls, so every such
body is refused here with a 400 before anything is stored or queued.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

from flask import g, request
from werkzeug.exceptions import RequestEntityTooLarge

from imagegen import errors
from imagegen.errors import ServiceError

# The deepest real request is a batch of edits with a list in an item (4 levels); the margin
# is for clients that send an extra envelope, not for recursion limits.
MAX_DEPTH = 16
# Text fields whose problems are prompt problems (IMG001) rather than parameter ones.
_PROMPT_FIELDS = frozenset({"prompt"})
# Images sent inline: input_image_base64, input_images_base64[i], mask_image_base64, ...
_IMAGE_FIELD_SUFFIX = "_base64"
_UNREAD = object()
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_body() -> Any | None:
    """The parsed body, or None when the request does not say it is JSON.

    Parsed once per request (idempotency fingerprints the same document the route reads).
    A body that says it is JSON and is not gets a 400 that says what is wrong with it.
    """
    cached = g.get("json_body", _UNREAD)
    if cached is not _UNREAD:
        return cached
    body = _parse() if request.is_json else None
    g.json_body = body
    return body


def check_text(value: Any, path: str = "") -> None:
    """Refuse a document (or form fields) whose strings are not text, or that nests too deep.

    Walks with an explicit stack: the depth limit must hold for documents that would
    exhaust Python's recursion, not only ones that would not.
    """
    pending: list[tuple[Any, str, int]] = [(value, path, 0)]
    while pending:
        item, where, depth = pending.pop()
        if isinstance(item, str):
            _check_string(item, where)
        elif isinstance(item, float) and not math.isfinite(item):
            _refuse(errors.INVALID_PARAMETERS, f"{_name(where)} is not a finite number", where)
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                _too_deep()
            if isinstance(item, dict):
                for key, child in item.items():
                    child_path = f"{where}.{key}" if where else str(key)
                    _check_string(key, child_path)
                    pending.append((child, child_path, depth + 1))
            else:
                pending.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))


def _parse() -> Any:
    raw = request.get_data(cache=True)
    _refuse_cut_stream(len(raw))
    if raw.startswith(b"\xef\xbb\xbf"):
        _not_json("it starts with a byte order mark; send UTF-8 without one")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        _not_json("it is not UTF-8 (JSON bodies must be UTF-8, not UTF-16 or another encoding)")
    if "\x00" in text:
        # UTF-16 and UTF-32 bodies of ASCII text are valid UTF-8 full of NUL bytes.
        _not_json("it holds NUL bytes (JSON bodies must be UTF-8, not UTF-16 or UTF-32)")
    try:
        document = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        _too_deep()
    except ValueError as exc:
        _not_json(str(exc))
    check_text(document)
    return document


def _refuse_cut_stream(read: int) -> None:
    """413 for a body without Content-Length that went past the limit.

    Werkzeug reads such a (chunked) body up to the limit and returns it cut there, with no
    error: parsed, it would be "not JSON" (a 400 that blames the client's JSON rather than
    its size). One more byte from the server's stream tells a body that ended exactly at
    the limit from one that goes on.
    """
    limit = request.max_content_length
    cut = request.content_length is None and limit is not None and read >= limit
    if cut and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


def _check_string(text: str, where: str) -> None:
    # Searched rather than encoded: inline images are megabytes of base64 text.
    if _SURROGATE.search(text):
        _refuse(
            _code_for(where),
            f"{_name(where)} is not valid Unicode text (it holds a lone UTF-16 surrogate)",
            where,
        )
    if "\x00" in text:
        _refuse(_code_for(where), f"{_name(where)} holds a NUL character", where)


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON value")


def _code_for(where: str) -> str:
    """The code of the field's own family, so a client sees what it sees for the field's
    other faults: a prompt's (IMG001), an image's (IMG303: it is not base64), the rest IMG302."""
    field = where.rsplit(".", 1)[-1].split("[", 1)[0]
    if field in _PROMPT_FIELDS:
        return errors.INVALID_PROMPT
    if field.endswith(_IMAGE_FIELD_SUFFIX):
        return errors.INVALID_IMAGE
    return errors.INVALID_PARAMETERS


def _name(where: str) -> str:
    return where or "a JSON key or value"


def _refuse(code: str, message: str, where: str) -> NoReturn:
    details: dict[str, Any] = {"parameter": where} if where else {}
    if code == errors.INVALID_PROMPT:
        details["prompt_issues"] = ["not valid text"]
    if code == errors.INVALID_IMAGE:
        details["field"] = where  # as every other IMG303 names its image
    raise ServiceError(code, message, details)


def _too_deep() -> NoReturn:
    raise ServiceError(
        errors.INVALID_PARAMETERS,
        f"the request body nests deeper than {MAX_DEPTH} levels, which no request of this API needs",
        {"limit": MAX_DEPTH},
    )


def _not_json(reason: str) -> NoReturn:
    raise ServiceError(errors.INVALID_PARAMETERS, f"the request body is not valid JSON: {reason}")

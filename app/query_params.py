"""Query parameters a route does not declare are refused (400 IMG302), as unknown body fields
are: a typo such as `?limt=5` would otherwise be ignored and answer something other than
what was asked.

What a route declares is read from the OpenAPI document, so the document stays the one list
of every route's parameters and a parameter added to a route without it is refused until
it is documented.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from flask import request

from app.api.docs import openapi_document
from imagegen import errors
from imagegen.errors import ServiceError

_METHODS = ("get", "put", "post", "delete", "patch")
_DIGITS = re.compile(r"[0-9]{1,9}")
# Flask writes a path variable as <name> or <converter:name>; OpenAPI as {name}.
_RULE_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def refuse_unknown_query_parameters() -> None:
    """before_request hook for the whole app."""
    rule = request.url_rule
    if rule is None:  # no route matched: the 404 or 405 says so
        return
    declared = declared_query_parameters().get(
        (request.method, _RULE_VARIABLE.sub(r"{\1}", rule.rule))
    )
    if declared is None:  # HEAD and OPTIONS, which Flask answers for every GET route
        return
    unknown = sorted(set(request.args) - declared)
    if unknown:
        allowed = ", ".join(sorted(declared)) or "none"
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"unknown query parameter {unknown[0]!r} (this route takes: {allowed})",
            {"parameter": unknown[0], "allowed": sorted(declared)},
        )


S = TypeVar("S", str, None)
N = TypeVar("N", int, None)


def int_arg(name: str, default: N, low: int, high: int) -> int | N:
    """The query parameter as an integer from low to high (default when absent), or IMG302."""
    raw = request.args.get(name)
    if raw is None:
        return default
    value = whole_number(raw, low, high)
    if value is None:
        raise invalid_parameter(name, f"{name} must be an integer from {low} to {high}")
    return value


def choice_arg(name: str, choices: Sequence[str], default: S) -> str | S:
    """The query parameter, one of choices (default when absent), or IMG302 naming them."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if raw not in choices:
        raise invalid_parameter(name, f"{name} must be {alternatives(choices)}", list(choices))
    return raw


def alternatives(choices: Sequence[str]) -> str:
    """The choices as text: "a or b", or "one of a, b, c"."""
    if len(choices) == 2:
        return " or ".join(choices)
    return "one of " + ", ".join(choices)


def invalid_parameter(name: str, message: str, allowed: list[str] | None = None) -> ServiceError:
    """IMG302 for one query parameter: details name it (field, parameter) and what it allows."""
    details: dict[str, Any] = {"field": name, "parameter": name}
    if allowed is not None:
        details["allowed"] = allowed
    return ServiceError(errors.INVALID_PARAMETERS, message, details)


def whole_number(raw: str, low: int, high: int) -> int | None:
    """raw as an integer from low to high, or None. ASCII digits only: str.isdigit() also
    takes "²" and "①", which int() refuses, and fullwidth digits, which int() quietly reads."""
    if not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        return None
    return int(raw)


@cache
def declared_query_parameters() -> dict[tuple[str, str], frozenset[str]]:
    """(method, OpenAPI path) -> the names of its query parameters. Read once, at start-up
    (create_app): parsing the document costs ~0.8 s of CPU, which the first requests of each
    API process would otherwise pay, many threads at once."""
    document = openapi_document()
    declared: dict[tuple[str, str], frozenset[str]] = {}
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            parameters = (_resolve(document, p) for p in shared + operation.get("parameters", []))
            names = frozenset(p["name"] for p in parameters if p["in"] == "query")
            declared[(method.upper(), path)] = names
    return declared


def _resolve(document: dict[str, Any], parameter: dict[str, Any]) -> dict[str, Any]:
    reference = parameter.get("$ref")
    if reference is None:
        return parameter
    # Only local references (#/components/parameters/Name) are used in the document.
    node: Any = document
    for part in reference.removeprefix("#/").split("/"):
        node = node[part]
    return dict(node)

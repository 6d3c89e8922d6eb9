"""POST /v1/images/edits: image-to-image, inpainting, outpainting, variation, background removal.

The body is JSON, or (for OpenAI-style clients) multipart/form-data with `image` and `mask`
files, read here into the same fields; imagegen.submissions.submit_edit checks, stores and
queues the edit (its images: imagegen.edit_inputs).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from app import idempotency
from app.api.image_input import accept_large_bodies, file_as_base64, is_multipart
from app.auth import require_api_key
from app.context import caller, services
from app.json_body import check_text, json_body
from app.submission import answer_submission, replay, requested_wait
from imagegen import catalog, errors
from imagegen.editing import parse_edit_request
from imagegen.errors import ServiceError
from imagegen.submissions import submit_edit

bp = Blueprint("edits", __name__, url_prefix="/v1")
bp.before_request(require_api_key)
accept_large_bodies(bp)

# OpenAI's images/edits form sends response_format; we always answer with URLs.
_OPENAI_URL_FORMAT = "url"


@bp.post("/images/edits")
def create_edit() -> ResponseReturnValue:
    wait = requested_wait()
    seen = idempotency.seen_before()
    if seen is not None:
        return replay(seen.resource_id, wait)
    body, strict = _read_body()
    edit = parse_edit_request(body, strict=strict)
    return answer_submission(
        lambda claim: submit_edit(services(), caller(), edit, claim), edit.async_, wait
    )


def _read_body() -> tuple[dict[str, Any], bool]:
    """The request as a dict, and whether it is JSON (strict types) or form fields."""
    if is_multipart():
        return _form_body(), False
    body = json_body()
    if body is None:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            "the request body must be JSON (Content-Type: application/json) or multipart/form-data",
        )
    if not isinstance(body, dict):
        raise ServiceError(errors.INVALID_PARAMETERS, "the request body must be a JSON object")
    return body, True


def _form_body() -> dict[str, Any]:
    """An OpenAI-style form: `image` file(s), optional `mask` file, the rest as fields."""
    body: dict[str, Any] = {}
    for name in request.form:
        values = request.form.getlist(name)
        body[name] = values if name in ("user_tags", "image_ids") else values[0]
    check_text(body)
    response_format = body.pop("response_format", _OPENAI_URL_FORMAT)
    if response_format != _OPENAI_URL_FORMAT:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            "response_format must be 'url': images are returned as signed URLs",
            {"parameter": "response_format", "allowed": [_OPENAI_URL_FORMAT]},
        )
    files = request.files.getlist("image") + request.files.getlist("image[]")
    if len(files) == 1:
        body["input_image_base64"] = file_as_base64(files[0], "image")
    elif files:
        body["input_images_base64"] = [file_as_base64(f, "image") for f in files]
    mask = request.files.get("mask")
    if mask is not None:
        body["mask_image_base64"] = file_as_base64(mask, "mask")
    unknown_files = sorted(set(request.files) - {"image", "image[]", "mask"})
    if unknown_files:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"unknown file fields: {', '.join(unknown_files)} (send 'image' and 'mask')",
            {"parameter": unknown_files[0]},
        )
    # OpenAI's edits endpoint is inpainting when a mask is given.
    body.setdefault("task", "inpaint" if mask is not None else catalog.IMAGE_TO_IMAGE)
    return body

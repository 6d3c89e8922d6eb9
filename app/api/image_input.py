"""Request-body handling shared by the routes that take images (uploads and edits).

These routes accept bodies up to IMAGEGEN_MAX_IMAGE_REQUEST_BYTES instead of the API's
default limit. Werkzeug checks Content-Length against the limit before reading any of the
body, so an oversized upload is refused without being received.
"""

from __future__ import annotations

import base64

from flask import Blueprint, Response, request
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from app.context import services
from app.errors import error_response
from imagegen import errors
from imagegen.errors import ServiceError


def accept_large_bodies(bp: Blueprint) -> None:
    """Raise this blueprint's body limit, and answer 413 with the image code."""

    @bp.before_request
    def _raise_limit() -> None:
        request.max_content_length = services().settings.max_image_request_bytes

    @bp.errorhandler(RequestEntityTooLarge)
    def _too_large(error: RequestEntityTooLarge) -> tuple[Response, int]:
        limit = services().settings.max_image_request_bytes
        if request.content_length is not None and request.content_length <= limit:
            # Not the size: the form's shape (too many parts, a field too long), which
            # Werkzeug refuses with the same exception; its description says which.
            return error_response(
                ServiceError(errors.PAYLOAD_TOO_LARGE, error.description or "form too large")
            )
        return error_response(
            ServiceError(
                errors.IMAGE_TOO_LARGE,
                f"the request is larger than {limit} bytes; each image may be at most "
                f"{services().settings.max_image_bytes} bytes",
                {
                    "limit_bytes": limit,
                    "image_limit_bytes": services().settings.max_image_bytes,
                },
            )
        )


def read_file(file: FileStorage, field: str) -> bytes:
    """A multipart file's bytes, refusing one over the image limit without reading it all."""
    limit = services().settings.max_image_bytes
    data = file.stream.read(limit + 1)
    if len(data) > limit:
        raise ServiceError(
            errors.IMAGE_TOO_LARGE,
            f"{field} is larger than {limit} bytes",
            {"field": field, "limit_bytes": limit},
        )
    return data


def file_as_base64(file: FileStorage, field: str) -> str:
    return base64.b64encode(read_file(file, field)).decode("ascii")


def is_multipart() -> bool:
    return request.mimetype == "multipart/form-data"

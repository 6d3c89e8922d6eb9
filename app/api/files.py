"""Serves image files of the local blob store behind signed, expiring URLs.

The URL itself is the credential (like an S3 presigned URL), so no API key is needed: an
<img> tag can load it. On AWS, clients get S3 presigned URLs instead.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from app.context import services
from imagegen import errors
from imagegen.errors import ServiceError
from imagegen.storage.blobs import content_type_for

bp = Blueprint("files", __name__)


@bp.get("/files/<path:key>")
def get_file(key: str) -> Response:
    svc = services()
    expires = request.args.get("expires", "")
    signature = request.args.get("signature", "")
    if not svc.signer.verify(key, expires, signature):
        raise ServiceError(errors.NOT_FOUND, "the link is invalid or has expired")
    try:
        data = svc.blobs.get(key)
    except (FileNotFoundError, ValueError):
        raise ServiceError(errors.NOT_FOUND, "the file does not exist") from None
    response = Response(data, mimetype=content_type_for(key))
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

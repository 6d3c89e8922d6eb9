"""POST /v1/uploads: store an input image once, then refer to it by id in edits."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue

from app.api.image_input import accept_large_bodies, is_multipart, read_file
from app.auth import require_api_key
from app.context import services
from app.json_body import json_body
from imagegen import errors
from imagegen.errors import ServiceError
from imagegen.input_images import decode_base64, open_image
from imagegen.serializers import upload_data
from imagegen.uploads import image_limits, store_upload

bp = Blueprint("uploads", __name__, url_prefix="/v1")
bp.before_request(require_api_key)
accept_large_bodies(bp)


@bp.post("/uploads")
def create_upload() -> ResponseReturnValue:
    svc = services()
    limits = image_limits(svc.settings)
    if is_multipart():
        file = request.files.get("file")
        if file is None:
            raise ServiceError(
                errors.INVALID_PARAMETERS,
                "send the image as a multipart file field named 'file'",
                {"parameter": "file"},
            )
        data = read_file(file, "file")
        field = "file"
    else:
        body = json_body()
        if not isinstance(body, dict) or not isinstance(body.get("image_base64"), str):
            raise ServiceError(
                errors.INVALID_PARAMETERS,
                "send multipart/form-data with a 'file' field, or JSON with 'image_base64'",
                {"parameter": "image_base64"},
            )
        unknown = sorted(set(body) - {"image_base64"})
        if unknown:
            raise ServiceError(
                errors.INVALID_PARAMETERS,
                f"unknown fields: {', '.join(unknown)}",
                {"invalid_parameters": [{"field": f, "issue": "unknown"} for f in unknown]},
            )
        field = "image_base64"
        data = decode_base64(body["image_base64"], field, limits)
    checked = open_image(data, field, limits)
    image = store_upload(svc, g.tenant_id, g.user_id, data, checked)
    return jsonify(upload_data(image, svc.blobs)), 201

"""POST /v1/uploads: store an input image once, then refer to it by id in edits."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from app.api.image_input import accept_large_bodies, is_multipart, read_file
from app.auth import require_api_key
from app.context import caller, services
from app.json_body import json_body
from imagegen import errors
from imagegen.errors import ServiceError
from imagegen.generation import validate_body
from imagegen.serializers import upload_data
from imagegen.uploads import UploadRequest, upload_base64, upload_image

bp = Blueprint("uploads", __name__, url_prefix="/v1")
bp.before_request(require_api_key)
accept_large_bodies(bp)


@bp.post("/uploads")
def create_upload() -> ResponseReturnValue:
    svc = services()
    if is_multipart():
        file = request.files.get("file")
        if file is None:
            raise ServiceError(
                errors.INVALID_PARAMETERS,
                "send the image as a multipart file field named 'file'",
                {"parameter": "file"},
            )
        image = upload_image(svc, caller(), read_file(file, "file"), "file")
    else:
        body = json_body()
        if not isinstance(body, dict):
            raise ServiceError(
                errors.INVALID_PARAMETERS,
                "send multipart/form-data with a 'file' field, or JSON with 'image_base64'",
                {"parameter": "image_base64"},
            )
        image = upload_base64(svc, caller(), validate_body(UploadRequest, body))
    return jsonify(upload_data(image, svc.blobs)), 201

"""The image library's routes (seed 004's image management API): list, read, change, delete
images and fetch their files. Each parses the request, calls one use case of
imagegen.library and serialises what it returns."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, redirect
from flask.typing import ResponseReturnValue
from werkzeug.routing import BaseConverter

from app.auth import require_api_key
from app.context import caller, services
from app.json_body import json_body
from app.library_query import listing_query, page_request
from app.query_params import choice_arg
from imagegen import library
from imagegen.records import Image
from imagegen.serializers import generated_image, library_summary
from imagegen.services import Services

bp = Blueprint("images", __name__, url_prefix="/v1")


class ImageIdConverter(BaseConverter):
    """Only image ids (imagegen.editing.IMAGE_ID_PATTERN) route here, so the neighbouring
    /v1/images/generations and /v1/images/edits keep answering 405 to other methods."""

    regex = r"img_[0-9a-f]{32}"


@bp.record_once
def _register_converter(state: Any) -> None:
    state.app.url_map.converters["image_id"] = ImageIdConverter


bp.before_request(require_api_key)


@bp.get("/images")
def list_images() -> ResponseReturnValue:
    """GetImagesParams in, GetImagesResponse out (with next_cursor for deep paging)."""
    svc = services()
    listing = library.list_images(svc, caller(), listing_query(), page_request())
    return jsonify(
        {
            "images": [_image_body(svc, image) for image in listing.images],
            "total": listing.total,
            "page": listing.page,
            "limit": listing.limit,
            "total_pages": listing.total_pages,
            "summary": library_summary(listing.summary),
            "next_cursor": listing.next_cursor,
        }
    )


@bp.get("/images/<image_id:image_id>")
def get_image(image_id: str) -> ResponseReturnValue:
    """The image, counting a view."""
    svc = services()
    return jsonify(_image_body(svc, library.view_image(svc, caller(), image_id)))


@bp.patch("/images/<image_id:image_id>")
def update_image(image_id: str) -> ResponseReturnValue:
    svc = services()
    update = library.parse_image_update(json_body(), image_id)
    return jsonify(_image_body(svc, library.update_image(svc, caller(), image_id, update)))


@bp.delete("/images/<image_id:image_id>")
def delete_image(image_id: str) -> ResponseReturnValue:
    library.delete_image(services(), caller(), image_id)
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


@bp.get("/images/<image_id:image_id>/content")
def image_content(image_id: str) -> ResponseReturnValue:
    """302 to a freshly signed URL of the file: the permanent_url of a saved image."""
    variant = choice_arg("variant", library.VARIANTS, library.ORIGINAL)
    response = redirect(library.image_file_url(services(), caller(), image_id, variant), 302)
    response.headers["Cache-Control"] = "no-store"
    return response


def _image_body(svc: Services, image: Image) -> dict[str, Any]:
    return generated_image(image, svc.blobs, svc.settings.public_base_url)

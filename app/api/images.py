"""The image library (seed 004's image management API): list, read, change, delete images
and fetch their files.

Every image of the caller's tenant is in it: generated, edited and uploaded ones. An image is
temporary until it is saved (PATCH status=saved); both kinds expire (imagegen.library) and
the worker's sweeper removes them then. A deleted image is gone at once for every route
here, and its files are removed.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import Blueprint, Response, g, jsonify, redirect
from flask.typing import ResponseReturnValue
from werkzeug.routing import BaseConverter

from app.auth import require_api_key
from app.context import services
from app.json_body import json_body
from app.library_query import listing_query, page_request
from app.query_params import choice_arg
from imagegen import errors, library
from imagegen.errors import ServiceError
from imagegen.library_paging import DEFAULT_LIMIT, make_cursor, read_cursor
from imagegen.records import (
    DELETED,
    LIBRARY_STATUSES,
    SAVED,
    TEMPORARY,
    Image,
    ImageChanges,
    utc_now,
)
from imagegen.serializers import generated_image, library_summary
from imagegen.storage.blobs import SAVED_RETENTION

log = logging.getLogger(__name__)

bp = Blueprint("images", __name__, url_prefix="/v1")


class ImageIdConverter(BaseConverter):
    """Only image ids (imagegen.editing.IMAGE_ID_PATTERN) route here, so the neighbouring
    /v1/images/generations and /v1/images/edits keep answering 405 to other methods."""

    regex = r"img_[0-9a-f]{32}"


@bp.record_once
def _register_converter(state: Any) -> None:
    state.app.url_map.converters["image_id"] = ImageIdConverter


bp.before_request(require_api_key)

# PATCH limits.
MAX_LABELS = 20
MAX_LABEL_CHARS = 50
MAX_DESCRIPTION_CHARS = 1000
PATCH_FIELDS = ("user_tags", "categories", "description", "is_favorite", "is_public", "status")
VARIANTS = ("original", "thumbnail")


# --- listing ------------------------------------------------------------------------------


@bp.get("/images")
def list_images() -> ResponseReturnValue:
    """GetImagesParams in, GetImagesResponse out (with next_cursor for deep paging)."""
    svc = services()
    query = listing_query()
    asked = page_request()
    # With a cursor the page starts after the cursor's image (page is then ignored) and keeps
    # the page size of the listing it came from unless limit says otherwise; without one,
    # (page - 1) * limit images are skipped.
    after: str | None = None
    if asked.cursor:
        start = read_cursor(asked.cursor, query)
        position, after, limit = start.position, start.after, asked.limit or start.limit
    else:
        limit = asked.limit or DEFAULT_LIMIT
        position = (asked.page - 1) * limit
    page = svc.repository.list_images(
        g.tenant_id, query, limit, offset=0 if after else position, after=after
    )
    summary = svc.repository.image_summary(g.tenant_id)
    base_url = svc.settings.public_base_url
    next_cursor = (
        make_cursor(query, page.next_after, position + len(page.images), limit)
        if page.next_after is not None
        else None
    )
    return jsonify(
        {
            "images": [generated_image(image, svc.blobs, base_url) for image in page.images],
            "total": page.total,
            "page": position // limit + 1,
            "limit": limit,
            "total_pages": math.ceil(page.total / limit),
            "summary": library_summary(summary),
            "next_cursor": next_cursor,
        }
    )


# --- one image ----------------------------------------------------------------------------


@bp.get("/images/<image_id:image_id>")
def get_image(image_id: str) -> ResponseReturnValue:
    """The image, counting a view."""
    svc = services()
    image = svc.repository.record_image_view(g.tenant_id, image_id)
    if image is None:
        raise _not_found(image_id)
    return jsonify(generated_image(image, svc.blobs, svc.settings.public_base_url))


@bp.patch("/images/<image_id:image_id>")
def update_image(image_id: str) -> ResponseReturnValue:
    svc = services()
    body = json_body()
    if not isinstance(body, dict):
        raise ServiceError(errors.INVALID_PARAMETERS, "the request body must be a JSON object")
    unknown = sorted(set(body) - set(PATCH_FIELDS))
    if unknown:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"unknown fields: {', '.join(unknown)} (a PATCH may change {', '.join(PATCH_FIELDS)})",
            {
                "field": unknown[0],
                "invalid_parameters": [{"field": f, "issue": "unknown field"} for f in unknown],
            },
        )
    user_tags = _labels(body, "user_tags")
    categories = _labels(body, "categories")
    description = _description(body)
    is_favorite = _flag(body, "is_favorite")
    is_public = _flag(body, "is_public")
    status = body.get("status")
    if "status" in body and status not in LIBRARY_STATUSES:
        if status == DELETED:
            raise _invalid(
                "status",
                f"status cannot be set to deleted: to delete the image, DELETE /v1/images/{image_id}",
            )
        raise _invalid("status", "status can only be set to saved", [SAVED])

    image = svc.repository.get_image(g.tenant_id, image_id)
    if image is None:
        raise _not_found(image_id)
    if status == TEMPORARY and image.status == SAVED:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"image {image_id} is saved and cannot become temporary again (DELETE it to remove it)",
            {"field": "status", "image_id": image_id, "status": image.status},
            status=409,
        )
    save = status == SAVED
    saving = save and image.status == TEMPORARY
    if save:
        # The files first: should this fail, the record still says temporary, and the
        # files are kept (longer than needed) rather than lost while the image is saved.
        _retain_saved(image)
    changes = ImageChanges(
        user_tags=user_tags,
        categories=categories,
        description=description,
        is_favorite=is_favorite,
        is_public=is_public,
        save=saving,
        saved_at=utc_now() if saving else None,
        saved_expires_at=library.saved_expiry(svc.settings, image.created_at) if saving else None,
    )
    updated = svc.repository.update_image(g.tenant_id, image_id, changes)
    if updated is None:  # deleted meanwhile
        raise _not_found(image_id)
    return jsonify(generated_image(updated, svc.blobs, svc.settings.public_base_url))


def _retain_saved(image: Image) -> None:
    blobs = services().blobs
    for key in image.file_keys:
        blobs.set_retention(key, SAVED_RETENTION)


def _labels(body: dict[str, Any], name: str) -> list[str] | None:
    """user_tags / categories: up to 20 strings of 1-50 characters, trimmed, each once."""
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _invalid(name, f"{name} must be a list of strings")
    labels = list(dict.fromkeys(item.strip() for item in value))
    for label in labels:
        if not 1 <= len(label) <= MAX_LABEL_CHARS:
            raise _invalid(
                name, f"each of {name} must be 1 to {MAX_LABEL_CHARS} characters (trimmed)"
            )
    if len(labels) > MAX_LABELS:
        raise _invalid(name, f"{name} may hold at most {MAX_LABELS} distinct values")
    return labels


def _description(body: dict[str, Any]) -> str | None:
    """None leaves the description; null (or "") clears it, stored as an empty string."""
    if "description" not in body:
        return None
    value = body["description"]
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION_CHARS:
        raise _invalid(
            "description",
            f"description must be a string of at most {MAX_DESCRIPTION_CHARS} characters, or null",
        )
    return value


def _flag(body: dict[str, Any], name: str) -> bool | None:
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, bool):
        raise _invalid(name, f"{name} must be true or false")
    return value


@bp.delete("/images/<image_id:image_id>")
def delete_image(image_id: str) -> ResponseReturnValue:
    """The record becomes a tombstone (never listed or served again) and the files go."""
    svc = services()
    image = svc.repository.delete_image(g.tenant_id, image_id, utc_now())
    if image is None:
        raise _not_found(image_id)
    for key in image.file_keys:
        try:
            svc.blobs.delete(key)
        except Exception:
            # The record is a tombstone already; the sweeper deletes the files again when
            # it expires, and on S3 the lifecycle rules do.
            log.exception("deleting a deleted image's file failed", extra={"image_id": image_id})
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


@bp.get("/images/<image_id:image_id>/content")
def image_content(image_id: str) -> ResponseReturnValue:
    """302 to a freshly signed URL of the file: the permanent_url of a saved image."""
    svc = services()
    variant = choice_arg("variant", VARIANTS, "original")
    if variant == "original":
        # Downloads count the image itself; thumbnails are what a gallery shows.
        found = svc.repository.record_image_download(g.tenant_id, image_id)
    else:
        found = svc.repository.get_image(g.tenant_id, image_id)
    if found is None:
        raise _not_found(image_id)
    key = found.blob_key if variant == "original" else found.thumbnail_key
    if key is None:
        raise ServiceError(errors.NOT_FOUND, f"image {image_id} has no {variant}")
    response = redirect(svc.blobs.signed_url(key), 302)
    response.headers["Cache-Control"] = "no-store"
    return response


def _not_found(image_id: str) -> ServiceError:
    # Another tenant's image, a deleted one and one that never was look the same.
    return ServiceError(errors.NOT_FOUND, f"no image {image_id}")


def _invalid(name: str, message: str, allowed: list[str] | None = None) -> ServiceError:
    details: dict[str, Any] = {"field": name, "parameter": name}
    if allowed is not None:
        details["allowed"] = allowed
    return ServiceError(errors.INVALID_PARAMETERS, message, details)

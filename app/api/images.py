"""The image library (seed 004's image management API): list, read, change, delete images
and fetch their files.

Every image of the caller's tenant is in it: generated, edited and uploaded ones. An image is
temporary until it is saved (PATCH status=saved); both kinds expire (imagegen.library) and
the worker's sweeper removes them then. A deleted image is gone at once for every route
here, and its files are removed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, g, jsonify, redirect, request
from flask.typing import ResponseReturnValue
from werkzeug.routing import BaseConverter

from app.auth import require_api_key
from app.context import services
from app.json_body import json_body
from app.query_params import whole_number
from imagegen import errors, library
from imagegen.errors import ServiceError
from imagegen.records import (
    DELETED,
    IMAGE_SORTS,
    IMAGE_TYPES,
    LIBRARY_STATUSES,
    SAVED,
    TEMPORARY,
    Image,
    ImageChanges,
    ImageQuery,
    utc_now,
    utc_timestamp,
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

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_PAGE = 1_000_000
MAX_SEARCH_CHARS = 500
MAX_FILTER_CHARS = 200
# PATCH limits.
MAX_LABELS = 20
MAX_LABEL_CHARS = 50
MAX_DESCRIPTION_CHARS = 1000
PATCH_FIELDS = ("user_tags", "categories", "description", "is_favorite", "is_public", "status")
VARIANTS = ("original", "thumbnail")
_CURSOR_VERSION = 1


# --- listing ------------------------------------------------------------------------------


@bp.get("/images")
def list_images() -> ResponseReturnValue:
    """GetImagesParams in, GetImagesResponse out (with next_cursor for deep paging)."""
    svc = services()
    query = _query_from_args()
    cursor = request.args.get("cursor")
    # With a cursor the page starts after the cursor's image (page is then ignored) and keeps
    # the page size of the listing it came from unless limit says otherwise; without one,
    # (page - 1) * limit images are skipped.
    after: str | None = None
    if cursor:
        position, after, cursor_limit = _read_cursor(cursor, query)
        limit = _int_arg("limit", cursor_limit, 1, MAX_LIMIT)
    else:
        limit = _int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        position = (_int_arg("page", 1, 1, MAX_PAGE) - 1) * limit
    page = svc.repository.list_images(
        g.tenant_id, query, limit, offset=0 if after else position, after=after
    )
    summary = svc.repository.image_summary(g.tenant_id)
    base_url = svc.settings.public_base_url
    next_cursor = (
        _make_cursor(query, page.next_after, position + len(page.images), limit)
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


def _query_from_args() -> ImageQuery:
    statuses = _list_arg("status")
    # "status=" names no status: it is a mistake, not a way to ask for every one.
    named_none = "status" in request.args and not statuses
    if named_none or any(status not in LIBRARY_STATUSES for status in statuses):
        raise _invalid(
            "status",
            f"status must be {' or '.join(LIBRARY_STATUSES)} (deleted images are not listed)",
            allowed=list(LIBRARY_STATUSES),
        )
    image_type = request.args.get("image_type")
    if image_type is not None and image_type not in IMAGE_TYPES:
        raise _invalid(
            "image_type", f"image_type must be one of {', '.join(IMAGE_TYPES)}", list(IMAGE_TYPES)
        )
    sort = request.args.get("sort", "created_at")
    if sort not in IMAGE_SORTS:
        raise _invalid("sort", f"sort must be one of {', '.join(IMAGE_SORTS)}", list(IMAGE_SORTS))
    order = request.args.get("order", "desc")
    if order not in ("asc", "desc"):
        raise _invalid("order", "order must be asc or desc", ["asc", "desc"])
    search = (request.args.get("search") or "").strip()
    if len(search) > MAX_SEARCH_CHARS:
        raise _invalid("search", f"search must be at most {MAX_SEARCH_CHARS} characters")
    chat_id = request.args.get("chat_id")
    if chat_id is not None and not 1 <= len(chat_id) <= MAX_FILTER_CHARS:
        raise _invalid("chat_id", f"chat_id must be 1 to {MAX_FILTER_CHARS} characters")
    created_from = _timestamp_arg("created_from", end_of_day=False)
    created_to = _timestamp_arg("created_to", end_of_day=True)
    if created_from and created_to and created_from > created_to:
        raise _invalid("created_from", "created_from must not be after created_to")
    return ImageQuery(
        # In a fixed order, so the same filters written differently are the same query.
        statuses=tuple(s for s in LIBRARY_STATUSES if s in statuses) or LIBRARY_STATUSES,
        chat_id=chat_id,
        tags=tuple(sorted(set(_list_arg("tags")))),
        categories=tuple(sorted(set(_list_arg("categories")))),
        is_favorite=_bool_arg("is_favorite"),
        image_type=image_type,
        search=search or None,
        created_from=created_from,
        created_to=created_to,
        sort=sort,
        descending=order == "desc",
    )


def _list_arg(name: str) -> list[str]:
    """A list parameter: repeated (?tags=a&tags=b), comma-separated (?tags=a,b) or both."""
    values = [
        part.strip()
        for raw in request.args.getlist(name)
        for part in raw.split(",")
        if part.strip()
    ]
    for value in values:
        if len(value) > MAX_FILTER_CHARS:
            raise _invalid(name, f"each {name} value must be at most {MAX_FILTER_CHARS} characters")
    return values


def _bool_arg(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        raise _invalid(name, f"{name} must be true or false", ["true", "false"])
    return raw.lower() == "true"


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    value = whole_number(raw, low, high)
    if value is None:
        raise _invalid(name, f"{name} must be an integer from {low} to {high}")
    return value


_OFFSET_WITHOUT_PLUS = re.compile(r" (\d{2}(:?\d{2})?)$")


def _timestamp_arg(name: str, end_of_day: bool) -> str | None:
    """ISO 8601 (a date, or a date and time with Z or an offset; none means UTC), as our UTC
    millisecond format. A date alone is the start of that day, or for created_to its end."""
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return None
    # An unencoded "+01:00" arrives as " 01:00".
    text = _OFFSET_WITHOUT_PLUS.sub(r"+\1", raw.strip())
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if end_of_day:
                moment += timedelta(days=1, milliseconds=-1)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        return utc_timestamp(moment)
    except (ValueError, OverflowError):
        raise _invalid(
            name, f"{name} must be an ISO 8601 date or date-time, e.g. 2026-11-01T00:00:00Z"
        ) from None


# A cursor carries where the next page starts (the repository's next_after), how many images
# come before it and the page size (for the page number), and what it lists: used with
# other filters or another order it would start at a meaningless place, so that is refused.


def _filters_hash(query: ImageQuery) -> str:
    filters = {
        "statuses": list(query.statuses),
        "chat_id": query.chat_id,
        "tags": list(query.tags),
        "categories": list(query.categories),
        "is_favorite": query.is_favorite,
        "image_type": query.image_type,
        "search": query.search,
        "created_from": query.created_from,
        "created_to": query.created_to,
    }
    canonical = json.dumps(filters, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _order(query: ImageQuery) -> str:
    return "desc" if query.descending else "asc"


def _make_cursor(query: ImageQuery, after: str, position: int, limit: int) -> str:
    data = {
        "v": _CURSOR_VERSION,
        "sort": query.sort,
        "order": _order(query),
        "filters": _filters_hash(query),
        "after": after,
        "position": position,
        "limit": limit,
    }
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _read_cursor(cursor: str, query: ImageQuery) -> tuple[int, str, int]:
    """(images before the page, the sort key it starts after, the listing's page size)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("v") != _CURSOR_VERSION:
            raise ValueError("not a cursor")
        after, position = data["after"], data["position"]
        # Cursors made before they carried the page size continue at the default one.
        limit = data.get("limit", DEFAULT_LIMIT)
        if not isinstance(after, str) or type(position) is not int or position < 0:
            raise ValueError("not a cursor")
        if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
            raise ValueError("not a cursor")
        after.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, a ValueError
    except (ValueError, KeyError, RecursionError, binascii.Error, UnicodeDecodeError):
        raise _invalid(
            "cursor", "cursor is not one this API gave out (pass next_cursor as it came)"
        ) from None
    if (data.get("sort"), data.get("order"), data.get("filters")) != (
        query.sort,
        _order(query),
        _filters_hash(query),
    ):
        raise _invalid(
            "cursor",
            "cursor belongs to a listing with other filters or another sort order: send the "
            "same filters, sort and order as the request it came from",
        )
    return position, after, limit


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
    variant = request.args.get("variant", "original")
    if variant not in VARIANTS:
        raise _invalid("variant", "variant must be original or thumbnail", list(VARIANTS))
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

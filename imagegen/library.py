"""The image library (seed 004's image management API): what a caller can do with the
images of their tenant, and how long images are kept.

Every image of the caller's tenant is in it: generated, edited and uploaded ones. An image is
temporary until it is saved; both kinds expire and the worker's sweeper removes them then.
A deleted image is gone at once for every use case here, and its files are removed.

Retention: an image expires a number of days after it was created, a short time while
temporary, a longer one (or never) once saved. Counting from creation, not from saving,
matches S3 lifecycle rules, which count an object's age from when it was written. Both
backends and the API apply this one policy.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from imagegen import errors
from imagegen.caller import Caller
from imagegen.config import Settings
from imagegen.errors import ServiceError
from imagegen.generation import validate_body
from imagegen.image_fields import Description, Labels
from imagegen.library_paging import DEFAULT_LIMIT, PageRequest, make_cursor, read_cursor
from imagegen.records import (
    DELETED,
    SAVED,
    TEMPORARY,
    Image,
    ImageChanges,
    ImageQuery,
    ImageSummary,
    parse_utc,
    utc_now,
    utc_timestamp,
)
from imagegen.services import Services
from imagegen.storage.blobs import SAVED_RETENTION

log = logging.getLogger(__name__)

ORIGINAL = "original"
THUMBNAIL = "thumbnail"
VARIANTS = (ORIGINAL, THUMBNAIL)


# --- retention ----------------------------------------------------------------------------


def temporary_expiry(settings: Settings, created_at: str) -> str:
    return _days_after(created_at, settings.temporary_retention_days)


def saved_expiry(settings: Settings, created_at: str) -> str | None:
    if settings.saved_retention_days == 0:
        return None
    return _days_after(created_at, settings.saved_retention_days)


def _days_after(moment: str, days: int) -> str:
    return utc_timestamp(parse_utc(moment) + timedelta(days=days))


# --- listing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageListing:
    """One page of a listing, the whole library's summary, and the cursor of the next page."""

    images: list[Image]
    total: int  # images matching the query, on every page
    page: int
    limit: int
    summary: ImageSummary
    next_cursor: str | None  # None on the last page

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.limit)


def list_images(
    services: Services,
    caller: Caller,
    query: ImageQuery,
    asked: PageRequest,
) -> ImageListing:
    """With a cursor the page starts after the cursor's image and keeps the page size of
    the listing it came from unless limit says otherwise; without one, (page - 1) * limit
    images are skipped."""
    after: str | None = None
    if asked.cursor:
        start = read_cursor(asked.cursor, query)
        position, after, limit = start.position, start.after, asked.limit or start.limit
    else:
        limit = asked.limit or DEFAULT_LIMIT
        position = (asked.page - 1) * limit
    found = services.repository.list_images(
        caller.tenant_id, query, limit, offset=0 if after else position, after=after
    )
    next_cursor = (
        make_cursor(query, found.next_after, position + len(found.images), limit)
        if found.next_after is not None
        else None
    )
    return ImageListing(
        images=found.images,
        total=found.total,
        page=position // limit + 1,
        limit=limit,
        summary=services.repository.image_summary(caller.tenant_id),
        next_cursor=next_cursor,
    )


# --- one image ----------------------------------------------------------------------------


def view_image(services: Services, caller: Caller, image_id: str) -> Image:
    """The image, counting a view."""
    image = services.repository.record_image_view(caller.tenant_id, image_id)
    if image is None:
        raise _not_found(image_id)
    return image


def image_file_url(services: Services, caller: Caller, image_id: str, variant: str) -> str:
    """A freshly signed URL of the image's original (counting a download) or thumbnail."""
    if variant == ORIGINAL:
        # Downloads count the image itself; thumbnails are what a gallery shows.
        found = services.repository.record_image_download(caller.tenant_id, image_id)
    else:
        found = services.repository.get_image(caller.tenant_id, image_id)
    if found is None:
        raise _not_found(image_id)
    key = found.blob_key if variant == ORIGINAL else found.thumbnail_key
    if key is None:
        raise ServiceError(errors.NOT_FOUND, f"image {image_id} has no {variant}")
    return services.blobs.signed_url(key)


class ImageUpdate(BaseModel):
    """The body of PATCH /v1/images/{id}: only the fields sent change (model_fields_set).

    A description of null (or "") clears it. status: saved saves a temporary image;
    temporary is what an unsaved image already is (a saved one cannot go back).
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    user_tags: Labels = Field(default_factory=list)
    categories: Labels = Field(default_factory=list)
    description: Description | None = None
    is_favorite: bool = False
    is_public: bool = False
    status: Literal["temporary", "saved"] = "temporary"

    def changed_fields(self) -> dict[str, Any]:
        """The fields the body named, but status, as ImageChanges takes them."""
        named = {name: getattr(self, name) for name in self.model_fields_set - {"status"}}
        if "description" in named:
            named["description"] = named["description"] or ""  # cleared: stored as ""
        return named


def parse_image_update(body: Any, image_id: str) -> ImageUpdate:
    """The PATCH body, or IMG302 with details.field naming the first field at fault."""
    if isinstance(body, dict) and body.get("status") == DELETED:
        message = (
            f"status cannot be set to deleted: to delete the image, DELETE /v1/images/{image_id}"
        )
        issue = {"field": "status", "issue": message}
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            message,
            {"field": "status", "parameter": "status", "invalid_parameters": [issue]},
        )
    try:
        return validate_body(ImageUpdate, body)
    except ServiceError as error:
        if "parameter" in error.details:
            field = error.details["parameter"].split("[")[0].split(".")[0]
            error.details = {"field": field, **error.details, "parameter": field}
        raise


def update_image(services: Services, caller: Caller, image_id: str, update: ImageUpdate) -> Image:
    """The image changed as the update says; saving a temporary one retains its files."""
    image = services.repository.get_image(caller.tenant_id, image_id)
    if image is None:
        raise _not_found(image_id)
    status = update.status if "status" in update.model_fields_set else None
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
        for key in image.file_keys:
            services.blobs.set_retention(key, SAVED_RETENTION)
    changes = ImageChanges(
        **update.changed_fields(),
        save=saving,
        saved_at=utc_now() if saving else None,
        saved_expires_at=saved_expiry(services.settings, image.created_at) if saving else None,
    )
    updated = services.repository.update_image(caller.tenant_id, image_id, changes)
    if updated is None:  # deleted meanwhile
        raise _not_found(image_id)
    return updated


def delete_image(services: Services, caller: Caller, image_id: str) -> None:
    """The record becomes a tombstone (never listed or served again) and the files go."""
    image = services.repository.delete_image(caller.tenant_id, image_id, utc_now())
    if image is None:
        raise _not_found(image_id)
    for key in image.file_keys:
        try:
            services.blobs.delete(key)
        except Exception:
            # The record is a tombstone already; the sweeper deletes the files again when
            # it expires, and on S3 the lifecycle rules do.
            log.exception("deleting a deleted image's file failed", extra={"image_id": image_id})


def _not_found(image_id: str) -> ServiceError:
    # Another tenant's image, a deleted one and one that never was look the same.
    return ServiceError(errors.NOT_FOUND, f"no image {image_id}")

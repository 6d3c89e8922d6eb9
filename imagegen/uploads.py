"""Input images: accepting uploads into the image store and loading images a request names.

An upload keeps the caller's file as sent (after it proved to be a sound PNG, JPEG or WebP)
and is an image record like any generated one, with image_type "uploaded".
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict

from imagegen import errors, library
from imagegen.admission import admit_storage
from imagegen.caller import Caller
from imagegen.config import Settings
from imagegen.errors import ServiceError
from imagegen.imaging import make_thumbnail
from imagegen.input_images import ImageLimits, InputImage, decode_base64, open_image, to_rgb
from imagegen.records import UPLOADED, Image, utc_now
from imagegen.services import Services
from imagegen.storage.blobs import blob_key


def image_limits(settings: Settings) -> ImageLimits:
    return ImageLimits(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)


class UploadRequest(BaseModel):
    """The JSON body of POST /v1/uploads (a form sends the file instead)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    image_base64: str


def upload_image(services: Services, caller: Caller, data: bytes, field: str) -> Image:
    """Check the caller's file and keep it as an upload: an image of the library."""
    checked = open_image(data, field, image_limits(services.settings))
    admit_storage(services, caller, len(data))
    return store_upload(services, caller.tenant_id, caller.user_id, data, checked)


def upload_base64(services: Services, caller: Caller, request: UploadRequest) -> Image:
    field = "image_base64"
    data = decode_base64(request.image_base64, field, image_limits(services.settings))
    return upload_image(services, caller, data, field)


def store_upload(
    services: Services, tenant_id: str, user_id: str, data: bytes, checked: InputImage
) -> Image:
    image_id = "img_" + uuid.uuid4().hex
    created_at = utc_now()
    key = blob_key(tenant_id, "uploads", created_at, f"{image_id}.{checked.format}")
    thumb_key = blob_key(tenant_id, "thumbnails", created_at, f"{image_id}.webp")
    # Thumbnails keep transparency; other modes (16-bit, CMYK, ...) need converting first.
    shown = checked.image if checked.image.mode in ("RGB", "RGBA") else to_rgb(checked.image)
    services.blobs.put(key, data)
    services.blobs.put(thumb_key, make_thumbnail(shown))
    image = Image(
        image_id=image_id,
        tenant_id=tenant_id,
        user_id=user_id,
        job_id=None,
        model_id=None,
        original_prompt=None,
        revised_prompt=None,
        negative_prompt=None,
        width=checked.width,
        height=checked.height,
        format=checked.format,
        size_bytes=len(data),
        quality=None,
        style=None,
        seed=None,
        blob_key=key,
        thumbnail_key=thumb_key,
        created_at=created_at,
        image_type=UPLOADED,
        expires_at=library.temporary_expiry(services.settings, created_at),
    )
    services.repository.add_image(image)
    return image


def load_owned_image(
    services: Services, tenant_id: str, image_id: str, field: str
) -> tuple[Image, InputImage]:
    """An image of this tenant (uploaded or generated), decoded and checked again: the
    limits may have changed since it was stored, and a stored file is still input."""
    found = services.repository.get_images(tenant_id, [image_id])
    if not found:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"{field}: no image {image_id} (upload it with POST /v1/uploads first)",
            {"field": field, "image_id": image_id},
        )
    record = found[0]
    data = services.blobs.get(record.blob_key)
    return record, open_image(data, field, image_limits(services.settings))

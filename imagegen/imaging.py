"""Checks what a model returned and makes thumbnails, with Pillow."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from imagegen import errors
from imagegen.errors import ServiceError

THUMBNAIL_MAX_SIDE = 256
FORMATS = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpeg", "image/jpeg"),
    "WEBP": ("webp", "image/webp"),
}


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    width: int
    height: int
    format: str  # png | jpeg | webp
    content_type: str
    thumbnail: bytes


def check_and_thumbnail(data: bytes) -> CheckedImage:
    """Decode the image fully (a truncated one fails here, not in a client) and thumbnail it."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.format not in FORMATS:
                raise ServiceError(
                    errors.GENERATION_FAILED, f"the model returned an unexpected {image.format}"
                )
            fmt, content_type = FORMATS[image.format]
            width, height = image.size
            thumbnail = make_thumbnail(image)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ServiceError(
            errors.GENERATION_FAILED, "the model returned an unreadable image"
        ) from exc
    return CheckedImage(data, width, height, fmt, content_type, thumbnail)


def make_thumbnail(image: Image.Image) -> bytes:
    """A WebP at most THUMBNAIL_MAX_SIDE px on its longer side, keeping transparency."""
    thumb = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    # A box reduce to about the thumbnail's size before the Lanczos pass (reducing_gap 1),
    # and WebP's effort 2 of 6: a third of the default's CPU per image (bench.postprocess),
    # for a 256 px preview that looks the same and is about as small.
    thumb.thumbnail((THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE), reducing_gap=1.0)
    out = io.BytesIO()
    thumb.save(out, format="WEBP", quality=80, method=2)
    return out.getvalue()

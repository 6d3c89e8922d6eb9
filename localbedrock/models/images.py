"""Input images in request bodies: base64 PNG or JPEG strings, decoded and checked.

Every failure is a schema-style ValidationException naming the JSON pointer of the string,
like the other body checks (``Malformed input request: #/init_image: ...``).
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Mapping
from typing import Any

from PIL import Image

from localbedrock.models.base import child, malformed, type_name

IMAGE_FORMATS = ("PNG", "JPEG")


def decode_image(value: Any, where: str, formats: tuple[str, ...] = IMAGE_FORMATS) -> Image.Image:
    """The fully loaded image a base64 string of one of ``formats`` holds."""
    if not isinstance(value, str):
        raise malformed(where, f"expected type: String, found: {type_name(value)}")
    try:
        data = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise malformed(where, "string is not valid base64") from None
    try:
        image = Image.open(io.BytesIO(data), formats=formats)
        image.load()  # a truncated or corrupt file fails here, not later while rendering
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        names = " or ".join(formats)
        raise malformed(where, f"decoded data is not a {names} image") from None
    return image


def get_image(obj: Mapping[str, Any], key: str, path: str) -> Image.Image | None:
    """Optional base64 image member; None when absent."""
    if key not in obj:
        return None
    return decode_image(obj[key], child(path, key))


def size_text(size: tuple[int, int]) -> str:
    """``WxH``, the way the errors show a size."""
    return f"{size[0]}x{size[1]}"


def require_same_size(image: Image.Image, size: tuple[int, int], where: str) -> None:
    """Reject a mask whose size differs from the image it masks."""
    if image.size != size:
        raise malformed(
            where, f"size {size_text(image.size)} does not match the image size {size_text(size)}"
        )


def require_sides(image: Image.Image, where: str, minimum: int, maximum: int | None) -> None:
    """Reject an image with a side outside [minimum, maximum] pixels."""
    for side, name in zip(image.size, ("width", "height"), strict=True):
        if side < minimum or (maximum is not None and side > maximum):
            limit = f"{minimum}-{maximum}" if maximum is not None else f"at least {minimum}"
            raise malformed(
                where, f"image {name} {side} px is outside the allowed range ({limit} px)"
            )


def require_max_pixels(image: Image.Image, where: str, maximum: int) -> None:
    """Reject an image with more than ``maximum`` pixels."""
    width, height = image.size
    if width * height > maximum:
        raise malformed(
            where, f"image {size_text(image.size)} has {width * height} pixels, more than {maximum}"
        )


def require_opaque(image: Image.Image, where: str) -> Image.Image:
    """``image`` as RGB; an alpha channel (or transparency) is rejected, not flattened."""
    if image.has_transparency_data:
        raise malformed(where, "image must be RGB without transparency (it has an alpha channel)")
    return image.convert("RGB")

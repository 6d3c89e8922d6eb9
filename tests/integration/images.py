"""Input images for the editing tests, drawn with Pillow so each test states what it sends."""

from __future__ import annotations

import base64
import io

from PIL import Image, ImageDraw


def scene(size: tuple[int, int] = (1024, 1024), mode: str = "RGB") -> Image.Image:
    """A plain background with a central object: easy to see what an edit changed."""
    width, height = size
    image = Image.new("RGB", size, (40, 120, 200))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=(230, 180, 40))
    draw.rectangle((width // 3, height // 3, width // 2, height // 2), fill=(200, 30, 60))
    return image.convert(mode)


def left_half_mask(size: tuple[int, int] = (1024, 1024)) -> Image.Image:
    """White (generate) on the left half, black (keep) on the right."""
    mask = Image.new("L", size, 0)
    mask.paste(255, (0, 0, size[0] // 2, size[1]))
    return mask


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image

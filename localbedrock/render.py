"""Deterministic placeholder images: same inputs, same bytes; a new seed, a new picture.

The picture is drawn on a small sketch (at most ``SKETCH_MAX_SIDE`` px per side) and scaled
up with nearest-neighbour to the size the real model would return, which keeps a 1024x1024
render far below 100 ms.  It shows a seeded two-colour gradient, a few seeded shapes and a
caption with the model, seed, size, style and the first words of the prompt, so a person
looking at an output can tell which request produced it.  Editing tasks combine the picture
(``sketch_image``) with their input image(s) (see ``edits.py``) before ``encode``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import textwrap

from PIL import Image, ImageDraw, ImageFilter, ImageFont

SKETCH_MAX_SIDE = 256
CAPTION_WORDS = 8
# Pillow format name and encoder options per output_format.
_ENCODE_OPTIONS: dict[str, tuple[str, dict[str, int]]] = {
    "png": ("PNG", {"compress_level": 1}),
    "jpeg": ("JPEG", {"quality": 90}),
    "webp": ("WEBP", {"quality": 80, "method": 0}),
}


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _sketch(rng: random.Random, size: tuple[int, int], caption: list[str]) -> Image.Image:
    width, height = size
    mask = Image.linear_gradient("L").rotate(rng.uniform(0, 360)).resize(size)
    image = Image.composite(
        Image.new("RGB", size, _colour(rng)), Image.new("RGB", size, _colour(rng)), mask
    )
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(3, 7)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = x0 + rng.randint(width // 10 + 1, width // 2 + 2)
        y1 = y0 + rng.randint(height // 10 + 1, height // 2 + 2)
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=_colour(rng), outline=(0, 0, 0))
    font = ImageFont.load_default(size=max(8, min(width, height) // 16))
    text = "\n".join(caption)
    box = draw.multiline_textbbox((4, 4), text, font=font)
    draw.rectangle((box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2), fill=(255, 255, 255))
    draw.multiline_text((4, 4), text, font=font, fill=(0, 0, 0))
    return image


def _caption(
    model_id: str, prompt: str, seed: int, index: int, size: tuple[int, int], style: str | None
) -> list[str]:
    words = " ".join(prompt.split()[:CAPTION_WORDS]) or "(empty prompt)"
    image = f"  image {index + 1}" if index else ""
    lines = [model_id, f"seed {seed}{image}  {size[0]}x{size[1]}"]
    if style:
        lines.append(f"style {style}")
    lines.extend(textwrap.wrap(words, width=28)[:3])
    lines.append("localbedrock placeholder")
    return lines


def sketch_image(
    *,
    model_id: str,
    prompt: str,
    negative_prompt: str | None,
    seed: int,
    width: int,
    height: int,
    style: str | None,
    index: int = 0,
    blurred: bool = False,
) -> Image.Image:
    """The RGB placeholder picture at full size; it depends only on the arguments.

    ``index`` tells apart the images of one call that share a seed (Titan, Nova);
    ``blurred`` gives the stand-in image a model returns with a content-filtered result.
    """
    parts: list[object] = [model_id, prompt, negative_prompt, seed, width, height, style]
    # A call of one image renders as it always did: the index only tells later ones apart.
    key = json.dumps([*parts, index] if index else parts)
    rng = random.Random(hashlib.sha256(key.encode("utf-8")).digest())
    scale = max(1, math.ceil(max(width, height) / SKETCH_MAX_SIDE))
    sketch_size = (math.ceil(width / scale), math.ceil(height / scale))
    sketch = _sketch(
        rng, sketch_size, _caption(model_id, prompt, seed, index, (width, height), style)
    )
    if blurred:
        sketch = sketch.filter(ImageFilter.GaussianBlur(radius=max(sketch_size) / 20))
    return sketch.resize((width, height), Image.Resampling.NEAREST)


def encode(image: Image.Image, output_format: str = "png") -> bytes:
    """``image`` encoded as ``output_format`` (png | jpeg | webp), byte-identical every time."""
    out = io.BytesIO()
    pillow_format, options = _ENCODE_OPTIONS[output_format]
    if pillow_format == "JPEG" and image.mode != "RGB":
        image = image.convert("RGB")  # JPEG has no alpha: a cut-out comes on black
    image.save(out, pillow_format, **options)
    return out.getvalue()


def render_image(
    *,
    model_id: str,
    prompt: str,
    negative_prompt: str | None,
    seed: int,
    width: int,
    height: int,
    style: str | None,
    output_format: str = "png",
    blurred: bool = False,
) -> bytes:
    """Encoded placeholder image bytes that depend only on the arguments."""
    image = sketch_image(
        model_id=model_id,
        prompt=prompt,
        negative_prompt=negative_prompt,
        seed=seed,
        width=width,
        height=height,
        style=style,
        blurred=blurred,
    )
    return encode(image, output_format)

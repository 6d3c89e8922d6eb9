"""Input pictures for the editing tests and pixel-level comparisons of the outputs."""

from __future__ import annotations

import base64
import io

from PIL import Image, ImageChops, ImageDraw, ImageStat

BACKGROUND = (200, 220, 240)
SUBJECT = (170, 40, 30)


def b64(image: Image.Image, image_format: str = "PNG") -> str:
    """``image`` as the base64 string a request body carries."""
    out = io.BytesIO()
    image.save(out, image_format, **({"quality": 100} if image_format == "JPEG" else {}))
    return base64.b64encode(out.getvalue()).decode("ascii")


def scene(size: tuple[int, int]) -> Image.Image:
    """A plain light background with a dark object in the middle third."""
    width, height = size
    image = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 3, height // 3, width * 2 // 3, height * 2 // 3), fill=SUBJECT)
    draw.rectangle(
        (width * 2 // 5, height * 2 // 5, width * 3 // 5, height // 2), fill=(20, 90, 30)
    )
    return image


def stripes(size: tuple[int, int]) -> Image.Image:
    """A busy picture unrelated to ``scene``: coloured vertical stripes."""
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    colours = [(250, 250, 20), (20, 20, 200), (240, 120, 240), (0, 0, 0)]
    step = max(1, size[0] // 16)
    for index, x in enumerate(range(0, size[0], step)):
        draw.rectangle((x, 0, x + step - 1, size[1]), fill=colours[index % len(colours)])
    return image


def box_mask(
    size: tuple[int, int], box: tuple[int, int, int, int], inside: str = "black"
) -> Image.Image:
    """A black-and-white mask: ``inside`` colour within ``box``, the other one around it."""
    outside = "white" if inside == "black" else "black"
    mask = Image.new("RGB", size, outside)
    ImageDraw.Draw(mask).rectangle(box, fill=inside)
    return mask


def region(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    """An "L" region: 255 within ``box``, 0 elsewhere."""
    area = Image.new("L", size, 0)
    ImageDraw.Draw(area).rectangle(box, fill=255)
    return area


def same_outside(output: Image.Image, original: Image.Image, area: Image.Image) -> bool:
    """Whether every pixel outside ``area`` (an "L" region) is identical in both images."""
    patched = Image.composite(original, output.convert("RGB"), area)
    return patched.tobytes() == original.convert("RGB").tobytes()


def changed_fraction(output: Image.Image, original: Image.Image, area: Image.Image) -> float:
    """The share of the pixels inside ``area`` whose colour differs between the images."""
    red, green, blue = ImageChops.difference(output.convert("RGB"), original.convert("RGB")).split()
    changed = ImageChops.lighter(ImageChops.lighter(red, green), blue).point(
        lambda value: 255 if value else 0
    )
    inside = area.histogram()[255]
    return ImageChops.multiply(changed, area).histogram()[255] / inside


def mean_difference(first: Image.Image, second: Image.Image) -> float:
    """Mean absolute difference per channel, 0 (identical) to 255."""
    difference = ImageChops.difference(first.convert("RGB"), second.convert("RGB"))
    return sum(ImageStat.Stat(difference).mean) / 3


def complement(area: Image.Image) -> Image.Image:
    """The pixels an "L" region leaves out."""
    return ImageChops.invert(area)

"""Image editing outputs: the input image(s) combined with the seeded placeholder sketch.

No model runs, so an edit is a deterministic composite that visibly derives from its inputs:

* image-to-image and variation blend the input (or the average of the references) with the
  sketch by a uniform weight;
* inpainting, outpainting and SDXL masking show the sketch inside a region and keep every
  other pixel of the input exactly;
* background removal makes the pixels close to the border colour transparent;
* the Stability image services: an upscale is the input resized by the service's factor
  (with the sketch blended in by the creativity of the upscales that reimagine), a recolour
  tints a region of the input, an erase fills a region with the colour around it, a style
  transfer blends the style image into the content image.

Regions are ``"L"`` images of the output size: 0 keeps the input pixel, 255 shows the sketch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageOps, ImageStat

# A mask pixel is dark (black) below this luminance, light (white) from it on.
MASK_THRESHOLD = 128
# Largest per-channel difference from the border colour that still counts as background.
BACKGROUND_TOLERANCE = 24

Sketch = Callable[[], Image.Image]


@dataclass(frozen=True)
class SketchBlend:
    """Show the sketch through ``region`` over ``base`` (both at the output size)."""

    base: Image.Image  # RGB
    region: Image.Image  # L: 0 = base pixel exactly, 255 = sketch pixel exactly

    def render(self, sketch: Sketch) -> Image.Image:
        return Image.composite(sketch(), self.base, self.region)


@dataclass(frozen=True)
class BackgroundRemoval:
    """Cut ``image`` out of its plain background; needs no sketch."""

    image: Image.Image  # RGB

    def render(self, sketch: Sketch) -> Image.Image:
        return remove_background(self.image)


@dataclass(frozen=True)
class Upscale:
    """``image`` resized to ``size``, the sketch showing through with ``sketch_weight``."""

    image: Image.Image  # RGB
    size: tuple[int, int]
    sketch_weight: float = 0.0  # 0: a plain resize, needing no sketch

    def render(self, sketch: Sketch) -> Image.Image:
        resized = self.image.resize(self.size, Image.Resampling.BICUBIC)
        if not self.sketch_weight:
            return resized
        return Image.blend(resized, sketch(), self.sketch_weight)


@dataclass(frozen=True)
class Recolour:
    """``base`` with ``region`` tinted ``colour``, keeping its light and shade; no sketch."""

    base: Image.Image  # RGB
    region: Image.Image  # L: 255 = recoloured
    colour: tuple[int, int, int]

    def render(self, sketch: Sketch) -> Image.Image:
        grey = self.base.convert("L")
        tinted = ImageOps.colorize(grey, black=(0, 0, 0), white=(255, 255, 255), mid=self.colour)
        return Image.composite(tinted, self.base, self.region)


@dataclass(frozen=True)
class Fill:
    """``base`` with ``region`` painted the mean colour of the pixels around it; no sketch."""

    base: Image.Image  # RGB
    region: Image.Image  # L: 255 = filled

    def render(self, sketch: Sketch) -> Image.Image:
        kept = invert(self.region)
        around = kept if kept.getbbox() is not None else None
        colour = tuple(round(v) for v in ImageStat.Stat(self.base, around).mean)
        return Image.composite(Image.new("RGB", self.base.size, colour), self.base, self.region)


@dataclass(frozen=True)
class StyleMix:
    """``content`` with ``style`` (resized to it) blended in by ``weight``; no sketch."""

    content: Image.Image  # RGB
    style: Image.Image  # RGB, any size
    weight: float  # 0: the content exactly, 1: the resized style image

    def render(self, sketch: Sketch) -> Image.Image:
        style = self.style.resize(self.content.size, Image.Resampling.BILINEAR)
        return Image.blend(self.content, style, self.weight)


Edit = SketchBlend | BackgroundRemoval | Upscale | Recolour | Fill | StyleMix


def uniform(size: tuple[int, int], weight: float) -> Image.Image:
    """A region showing the sketch with ``weight`` (0-1) everywhere."""
    return Image.new("L", size, round(255 * weight))


def dark_pixels(mask: Image.Image) -> Image.Image:
    """255 where ``mask`` is black (luminance below the threshold), 0 elsewhere."""
    return _threshold(mask.convert("L"), dark=True)


def light_pixels(mask: Image.Image) -> Image.Image:
    """255 where ``mask`` is white (luminance at or above the threshold), 0 elsewhere."""
    return _threshold(mask.convert("L"), dark=False)


def transparent_pixels(image: Image.Image) -> Image.Image:
    """255 where ``image`` is transparent (alpha below the threshold), 0 where opaque."""
    return _threshold(image.convert("RGBA").getchannel("A"), dark=True)


def _threshold(channel: Image.Image, *, dark: bool) -> Image.Image:
    below, above = (255, 0) if dark else (0, 255)
    return channel.point([below] * MASK_THRESHOLD + [above] * (256 - MASK_THRESHOLD))


def centre_ellipse(size: tuple[int, int]) -> Image.Image:
    """255 inside the centred ellipse spanning the middle half of each side.

    Stands in for the region a mask prompt names: localbedrock cannot segment images.
    """
    width, height = size
    region = Image.new("L", size, 0)
    box = (width // 4, height // 4, width * 3 // 4 - 1, height * 3 // 4 - 1)
    ImageDraw.Draw(region).ellipse(box, fill=255)
    return region


def invert(region: Image.Image) -> Image.Image:
    """The complement of ``region``."""
    return ImageChops.invert(region)


def average(images: Sequence[Image.Image], size: tuple[int, int]) -> Image.Image:
    """The mean of the RGB ``images``, each resized to ``size`` first."""
    resized = [image.resize(size, Image.Resampling.BILINEAR) for image in images]
    mean = resized[0]
    # A running mean: the k-th image gets weight 1/k, so all end up weighted equally.
    for count, image in enumerate(resized[1:], start=2):
        mean = Image.blend(mean, image, 1 / count)
    return mean


def border_colour(image: Image.Image) -> tuple[int, ...]:
    """The per-channel median colour of the outermost ring of pixels."""
    width, height = image.size
    ring = Image.new("L", image.size, 255)
    if width > 2 and height > 2:
        ImageDraw.Draw(ring).rectangle((1, 1, width - 2, height - 2), fill=0)
    return tuple(int(value) for value in ImageStat.Stat(image, ring).median)


def remove_background(image: Image.Image) -> Image.Image:
    """RGBA: alpha 0 where the colour is within the tolerance of the border colour, else 255."""
    rgb = image.convert("RGB")
    backdrop = Image.new("RGB", rgb.size, border_colour(rgb))
    red, green, blue = ImageChops.difference(rgb, backdrop).split()
    distance = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    cut = BACKGROUND_TOLERANCE + 1
    alpha = distance.point([0] * cut + [255] * (256 - cut))
    result = rgb.copy()
    result.putalpha(alpha)
    return result

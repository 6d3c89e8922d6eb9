"""Amazon Nova Canvas (``amazon.nova-canvas-v1:0``): text-to-image and Titan's editing tasks.

Limits from the Amazon Nova user guide pages "Request and response structure for image
generation" (nova/latest/userguide/image-gen-req-resp-structure.html) and "Supported image
resolutions": textToImageParams.text and negativeText 1-1024 characters, optional style enum;
imageGenerationConfig width and height 320-4096 px and divisible by 16 (default 1024), aspect
ratio between 1:4 and 4:1, at most 4,194,304 pixels (2048x2048 is a listed resolution),
numberOfImages 1-5, cfgScale 1.1-10 (default 6.5), seed 0-858993459 (default 12),
quality standard | premium.

Inpainting, outpainting, variation and background removal take Titan v2's body shapes (see
titan.py) without ``returnMask``.  Input images must be 320-4096 px per side, at most
4,194,304 pixels and between 1:4 and 4:1 (no multiple-of-16 rule: that is for outputs).
Conditioning, colour guidance and virtual try-on are recognised but not emulated yet.
"""

from __future__ import annotations

from typing import Any, ClassVar

from PIL import Image

from localbedrock.models.base import child, get_int, get_string, malformed
from localbedrock.models.images import require_max_pixels, require_sides, size_text
from localbedrock.models.titan import CONDITIONING_KEYS, TITAN_V2_TASKS, AmazonImageModel

STYLES = (
    "3D_ANIMATED_FAMILY_FILM",
    "DESIGN_SKETCH",
    "FLAT_VECTOR_ILLUSTRATION",
    "GRAPHIC_NOVEL_ILLUSTRATION",
    "MAXIMALISM",
    "MIDCENTURY_RETRO",
    "PHOTOREALISM",
    "SOFT_DIGITAL_PAINTING",
)
SIDE_MIN = 320
SIDE_MAX = 4096
SIDE_MULTIPLE = 16
MAX_PIXELS = 4_194_304
MAX_RATIO = 4


class NovaCanvas(AmazonImageModel):
    """Nova Canvas: Titan's body shape with a style enum and free sizes within limits."""

    model_ids: ClassVar[tuple[str, ...]] = ("amazon.nova-canvas-v1:0",)
    tasks: ClassVar[dict[str, str]] = {**TITAN_V2_TASKS, "VIRTUAL_TRY_ON": "virtualTryOnParams"}
    prompt_max: ClassVar[int] = 1024
    seed_max: ClassVar[int] = 858993459
    seed_default: ClassVar[int] = 12
    conditioning_keys: ClassVar[tuple[str, ...]] = CONDITIONING_KEYS
    text_extra_keys: ClassVar[tuple[str, ...]] = ("style",)
    variation_images_max: ClassVar[int] = 5
    has_similarity_strength: ClassVar[bool] = True

    def style(self, params: dict[str, Any], path: str) -> str | None:
        return get_string(params, "style", path, enum=STYLES)

    def size(self, config: dict[str, Any], path: str) -> tuple[int, int]:
        sides = []
        for key in ("width", "height"):
            value = get_int(config, key, path, minimum=SIDE_MIN, maximum=SIDE_MAX)
            value = 1024 if value is None else value
            if value % SIDE_MULTIPLE:
                raise malformed(child(path, key), f"{value} is not a multiple of {SIDE_MULTIPLE}")
            sides.append(value)
        width, height = sides
        _check_ratio((width, height), path)
        if width * height > MAX_PIXELS:
            raise malformed(
                path, f"{width}x{height} has {width * height} pixels, more than {MAX_PIXELS}"
            )
        return width, height

    def check_input_size(self, image: Image.Image, where: str) -> None:
        require_sides(image, where, SIDE_MIN, SIDE_MAX)
        _check_ratio(image.size, where)
        require_max_pixels(image, where, MAX_PIXELS)


def _check_ratio(size: tuple[int, int], where: str) -> None:
    if max(size) > MAX_RATIO * min(size):
        raise malformed(where, f"aspect ratio of {size_text(size)} is outside the range 1:4 to 4:1")

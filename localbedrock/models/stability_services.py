"""Stability AI Image Services: fast, conservative and creative upscale, remove background,
search and replace, search and recolor, erase object, control sketch, control structure,
style guide, style transfer.

Fields and limits from the AWS Bedrock user guide page "Stability AI Image Services"
(https://docs.aws.amazon.com/bedrock/latest/userguide/stable-image-services.html); every
body key the page does not list for a service is refused as extraneous, as Bedrock's
schema does (Stability's own REST API takes more, e.g. grow_mask on remove background).

* image: required, base64 jpeg | png | webp.  Fast upscale: sides 32-1,536 px, 1,024-1,048,576
  pixels.  Creative upscale: sides at least 64 px, 4,096-1,048,576 pixels.  All the others:
  sides at least 64 px, at most 9,437,184 pixels, aspect ratio 1:2.5 to 2.5:1.
* prompt: 0-10,000 characters; required by conservative/creative upscale, search and
  replace, search and recolor; negative_prompt: at most 10,000.
* search_prompt (search and replace), select_prompt (search and recolor): required, at most
  10,000 characters.
* seed 0-4294967294 (0 or absent = random), where listed; output_format jpeg | png | webp
  (default png), everywhere; style_preset (the 17 SDXL presets) on creative upscale, search
  and replace/recolor; creativity 0.1-0.5 on the conservative (default 0.35) and creative
  (default 0.3) upscales; grow_mask 0-20 on search and replace/recolor and erase; mask
  (optional, erase) white = erase, resized to the image's size when it differs; without it
  the image's transparent pixels are the region; control_strength 0-1 (default 0.7) on the
  control services, which also take prompt (required), negative_prompt, seed, style_preset.
* Style guide: prompt and image (the style to follow) required; aspect_ratio (16:9, 1:1,
  21:9, 2:3, 3:2, 4:5, 5:4, 9:16, 9:21; default 1:1), negative_prompt, seed, output_format,
  fidelity 0-1 (default 0.5), style_preset.
* Style transfer takes no ``image``: ``init_image`` (the content) and ``style_image``, both
  required and both held to the limits above; prompt (optional), negative_prompt, seed,
  output_format, composition_fidelity 0-1 (default 0.9), style_strength 0-1 (default 1),
  change_strength 0.1-1 (default 0.9).
* Response: ``{"seeds": [...], "finish_reasons": [null], "images": ["<base64>"]}``.

What the page leaves open, and localbedrock's choices:
* Conservative and creative upscale go "to 4K resolution" with no formula: here each side
  grows 4 times (as fast upscale's documented factor), capped so the longer side is at most
  4,096 px, never shrinking.
* The control services' output has the input's size (the page names none).  Control
  structure shows the input with the sketch over it by 1 - control_strength; control sketch
  the same over the input's contour lines (dark edges on white), as a drawing would give.
* Style guide's output has the aspect ratio's size in Stability's 1 MP table (the page
  names no pixels): the seeded sketch with the style image (resized) over it by fidelity.
* Style transfer's output has the content image's size (the page names none): the content
  with the style image blended in by style_strength x change_strength x (1 -
  composition_fidelity / 2), so style_strength 0 gives the input back, as the page says.
* No model runs: search and replace/recolor act on the centred ellipse (as mask prompts do,
  localbedrock cannot segment), grow_mask is validated but not drawn, and an erase without a
  mask of an image without transparency is refused (the page does not say what happens).
"""

from __future__ import annotations

import base64
import hashlib
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from PIL import Image, ImageFilter, ImageOps

from localbedrock.edits import (
    BackgroundRemoval,
    Edit,
    Fill,
    Recolour,
    SketchBlend,
    StyleMix,
    Upscale,
    centre_ellipse,
    light_pixels,
    transparent_pixels,
    uniform,
)
from localbedrock.models.base import (
    GenerationJob,
    ModelHandler,
    check_keys,
    expect_object,
    get_int,
    get_number,
    get_string,
    malformed,
)
from localbedrock.models.images import decode_image, require_max_pixels, require_sides
from localbedrock.models.stability_v2 import ASPECT_RATIO_SIZES

FORMATS = ("PNG", "JPEG", "WEBP")
OUTPUT_FORMATS = ("jpeg", "png", "webp")
TEXT_MAX = 10_000
SEED_MAX = 4_294_967_294
GROW_MASK_MAX = 20
STYLE_PRESETS = (
    "3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art", "enhance",
    "fantasy-art", "isometric", "line-art", "low-poly", "modeling-compound", "neon-punk",
    "origami", "photographic", "pixel-art", "tile-texture",
)  # fmt: skip
UPSCALE_FACTOR = 4
UPSCALE_MAX_SIDE = 4096
# How much of the placeholder sketch a reimagining upscale blends in, per unit creativity.
CONSERVATIVE_SKETCH_SHARE = 0.25
FILTERED_REASON = "Filter reason: prompt"


@dataclass(frozen=True)
class InputLimits:
    """What a service's ``image`` must be."""

    min_side: int
    max_side: int | None
    min_pixels: int
    max_pixels: int
    max_ratio: float | None  # longer side / shorter side


EDIT_LIMITS = InputLimits(64, None, 0, 9_437_184, 2.5)


@dataclass(frozen=True)
class Request:
    """A validated body, as the service's renderer needs it."""

    image: Image.Image  # as decoded (mode kept: the alpha channel can be the mask)
    prompt: str
    values: dict[str, Any]  # the optional and service-specific members that were given


class _StabilityService(ModelHandler):
    """The shared body rules; subclasses declare their fields and how they render."""

    task: ClassVar[str]
    required: ClassVar[tuple[str, ...]]
    optional: ClassVar[tuple[str, ...]]
    limits: ClassVar[InputLimits] = EDIT_LIMITS
    creativity_default: ClassVar[float | None] = None
    image_key: ClassVar[str] = "image"  # style transfer's is init_image

    def parse(self, body: Any) -> GenerationJob:
        root = expect_object(body, "#")
        check_keys(root, "#", (*self.required, *self.optional), required=self.required)
        image = decode_image(root[self.image_key], f"#/{self.image_key}", FORMATS)
        self._check_limits(image, f"#/{self.image_key}")
        values: dict[str, Any] = {}
        if "style_image" in root:
            values["style_image"] = decode_image(root["style_image"], "#/style_image", FORMATS)
            self._check_limits(values["style_image"], "#/style_image")
        for key in ("composition_fidelity", "style_strength"):
            values[key] = get_number(root, key, "#", minimum=0, maximum=1)
        values["change_strength"] = get_number(root, "change_strength", "#", minimum=0.1, maximum=1)
        values["fidelity"] = get_number(root, "fidelity", "#", minimum=0, maximum=1)
        values["aspect_ratio"] = get_string(root, "aspect_ratio", "#", enum=ASPECT_RATIO_SIZES)
        for key in ("negative_prompt", "search_prompt", "select_prompt"):
            values[key] = get_string(root, key, "#", max_len=TEXT_MAX)
        values["style_preset"] = get_string(root, "style_preset", "#", enum=STYLE_PRESETS)
        values["grow_mask"] = get_int(root, "grow_mask", "#", minimum=0, maximum=GROW_MASK_MAX)
        values["creativity"] = get_number(root, "creativity", "#", minimum=0.1, maximum=0.5)
        values["control_strength"] = get_number(root, "control_strength", "#", minimum=0, maximum=1)
        if "mask" in root:
            values["mask"] = decode_image(root["mask"], "#/mask", FORMATS)
        seed = get_int(root, "seed", "#", minimum=0, maximum=SEED_MAX)
        fmt = get_string(root, "output_format", "#", enum=OUTPUT_FORMATS) or "png"
        prompt = get_string(root, "prompt", "#", max_len=TEXT_MAX) or ""
        request = Request(image, prompt, values)
        edit, size = self.edit(request)
        return GenerationJob(
            task=self.task,
            prompt=prompt,
            negative_prompt=values["negative_prompt"],
            requested_seed=seed,
            seeds=(seed if seed else secrets.randbelow(SEED_MAX) + 1,),
            width=size[0],
            height=size[1],
            style=values["style_preset"],
            output_format=fmt,
            edit=edit,
        )

    def _check_limits(self, image: Image.Image, path: str) -> None:
        limits = self.limits
        require_sides(image, path, limits.min_side, limits.max_side)
        require_max_pixels(image, path, limits.max_pixels)
        width, height = image.size
        if width * height < limits.min_pixels:
            raise malformed(
                path,
                f"image {width}x{height} has {width * height} pixels, "
                f"fewer than {limits.min_pixels}",
            )
        if limits.max_ratio is not None and max(width, height) / min(width, height) > (
            limits.max_ratio
        ):
            raise malformed(
                path,
                f"image aspect ratio {width}:{height} is outside 1:{limits.max_ratio} to "
                f"{limits.max_ratio}:1",
            )

    def edit(self, request: Request) -> tuple[Edit, tuple[int, int]]:
        """The output's edit and size."""
        raise NotImplementedError

    def respond(self, job: GenerationJob, images: list[bytes]) -> dict[str, Any]:
        return {
            "seeds": list(job.seeds),
            "finish_reasons": [None] * len(images),
            "images": [base64.b64encode(image).decode("ascii") for image in images],
        }

    def filtered(self, job: GenerationJob, placeholder: Callable[[], bytes]) -> dict[str, Any]:
        return {"seeds": list(job.seeds), "finish_reasons": [FILTERED_REASON], "images": []}


def _upscaled_size(size: tuple[int, int]) -> tuple[int, int]:
    """4 times per side, the longer side capped at 4,096 px, never smaller than the input."""
    factor = max(1.0, min(UPSCALE_FACTOR, UPSCALE_MAX_SIDE / max(size)))
    return (math.floor(size[0] * factor), math.floor(size[1] * factor))


class FastUpscale(_StabilityService):
    """``stability.stable-fast-upscale-v1:0``: exactly 4 times per side, no prompt."""

    model_ids: ClassVar[tuple[str, ...]] = ("stability.stable-fast-upscale-v1:0",)
    task = "fast-upscale"
    required = ("image",)
    optional = ("output_format",)
    limits = InputLimits(32, 1536, 1024, 1_048_576, None)

    def edit(self, request: Request) -> tuple[Edit, tuple[int, int]]:
        width, height = request.image.size
        size = (width * UPSCALE_FACTOR, height * UPSCALE_FACTOR)
        return Upscale(request.image.convert("RGB"), size), size


class ConservativeUpscale(_StabilityService):
    """``stability.stable-conservative-upscale-v1:0``."""

    model_ids: ClassVar[tuple[str, ...]] = ("stability.stable-conservative-upscale-v1:0",)
    task = "conservative-upscale"
    required = ("prompt", "image")
    optional = ("creativity", "negative_prompt", "seed", "output_format")
    creativity_default = 0.35

    def edit(self, request: Request) -> tuple[Edit, tuple[int, int]]:
        size = _upscaled_size(request.image.size)
        creativity = request.values["creativity"] or self.creativity_default
        weight = creativity * CONSERVATIVE_SKETCH_SHARE
        return Upscale(request.image.convert("RGB"), size, weight), size


class CreativeUpscale(_StabilityService):
    """``stability.stable-creative-upscale-v1:0``: the creativity is the sketch's share."""

    model_ids: ClassVar[tuple[str, ...]] = ("stability.stable-creative-upscale-v1:0",)
    task = "creative-upscale"
    required = ("prompt", "image")
    optional = ("creativity", "negative_prompt", "seed", "output_format", "style_preset")
    limits = InputLimits(64, None, 4096, 1_048_576, None)
    creativity_default = 0.3

    def edit(self, request: Request) -> tuple[Edit, tuple[int, int]]:
        size = _upscaled_size(request.image.size)
        creativity = request.values["creativity"] or self.creativity_default
        return Upscale(request.image.convert("RGB"), size, creativity), size


class RemoveBackground(_StabilityService):
    """``stability.stable-image-remove-background-v1:0``: RGBA, the input's size."""

    model_ids: ClassVar[tuple[str, ...]] = ("stability.stable-image-remove-background-v1:0",)
    task = "remove-background"
    required = ("image",)
    optional = ("output_format",)

    def edit(self, request: Request) -> tuple[Edit, tuple[int, int]]:
        return BackgroundRemoval(request.image.convert("RGB")), request.image.size


_SEARCH_OPTIONAL = ("style_preset", "negative_prompt", "seed", "output_format", "grow_mask")


class SearchReplace(_StabilityService):
    """``stability.stable-image-search-replace-v1:0``: the sketch replaces the found object."""

    model_ids: ClassVar[tuple[str, ...]] = ("stability.stable-image-search-replace-v1:0",)
    task = "search-replace"
    required = ("prompt", "image", "search_prompt")
    optional = _SEARCH_OPTIONAL

    def edit(self, request: Request) -> tuple[Edit, tuple[int, int]]:
        image = request.image.convert("RGB")
        return SketchBlend(image, centre_ellipse(image.size)), image.size


class SearchRecolor(_StabilityService):
    """``stability.stable-image-search-recolor-v1:0``: the found object tinted by the prompt."""

    model_ids: ClassVar[tuple[str, ...]] = ("stability.stable-image-search-recolor-v1:0",)
    task = "search-recolor"
    required = ("prompt", "image", "select_prompt")
    optional = _SEARCH_OPTIONAL

    def edit(self, request: Request) -> tuple[Edit, tuple[int, int]]:
        image = request.image.convert("RGB")
        digest = hashlib.sha256(request.prompt.encode("utf-8")).digest()
        colour = (digest[0], digest[1], digest[2])
        return Recolour(image, centre_ellipse(image.size), colour), image.size


class EraseObject(_StabilityService):
    """``stability.stable-image-erase-object-v1:0``: the masked pixels take the colour around."""

    model_ids: ClassVar[tuple[str, ...]] = ("stability.stable-image-erase-object-v1:0",)
    task = "erase"
    required = ("image",)
    optional = ("seed", "output_format", "mask", "grow_mask")

    def edit(self, request: Request) -> tuple[Edit, tuple[int, int]]:
        image = request.image
        mask: Image.Image | None = request.values.get("mask")
        if mask is not None:
            region = light_pixels(mask.resize(image.size, Image.Resampling.NEAREST))
        elif image.has_transparency_data:
            region = transparent_pixels(image)
        else:
            raise malformed("#/mask", "required key [mask] not found (the image has no alpha)")
        return Fill(image.convert("RGB"), region), image.size


CONTROL_OPTIONAL = (
    "control_strength", "negative_prompt", "seed", "output_format", "style_preset",
)  # fmt: skip
CONTROL_STRENGTH_DEFAULT = 0.7


def _controlled(base: Image.Image, control_strength: float | None) -> SketchBlend:
    """``base`` kept by the control strength, the sketch showing through by the rest."""
    strength = CONTROL_STRENGTH_DEFAULT if control_strength is None else control_strength
    return SketchBlend(base, uniform(base.size, 1 - strength))


class ControlSketch(_StabilityService):
    """``stability.stable-image-control-sketch-v1:0``: follows the input's contour lines."""

    model_ids: ClassVar[tuple[str, ...]] = ("stability.stable-image-control-sketch-v1:0",)
    task = "control-sketch"
    required = ("prompt", "image")
    optional = CONTROL_OPTIONAL

    def edit(self, request: Request) -> tuple[Edit, tuple[int, int]]:
        edges = request.image.convert("L").filter(ImageFilter.FIND_EDGES)
        drawing = ImageOps.invert(edges).convert("RGB")
        return _controlled(drawing, request.values["control_strength"]), drawing.size


class ControlStructure(_StabilityService):
    """``stability.stable-image-control-structure-v1:0``: keeps the input's structure."""

    model_ids: ClassVar[tuple[str, ...]] = ("stability.stable-image-control-structure-v1:0",)
    task = "control-structure"
    required = ("prompt", "image")
    optional = CONTROL_OPTIONAL

    def edit(self, request: Request) -> tuple[Edit, tuple[int, int]]:
        image = request.image.convert("RGB")
        return _controlled(image, request.values["control_strength"]), image.size


FIDELITY_DEFAULT = 0.5


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


class StyleGuide(_StabilityService):
    """``stability.stable-image-style-guide-v1:0``: a new image in the input's style."""

    model_ids: ClassVar[tuple[str, ...]] = ("stability.stable-image-style-guide-v1:0",)
    task = "style-guide"
    required = ("prompt", "image")
    optional = (
        "aspect_ratio", "negative_prompt", "seed", "output_format", "fidelity", "style_preset",
    )  # fmt: skip

    def edit(self, request: Request) -> tuple[Edit, tuple[int, int]]:
        size = ASPECT_RATIO_SIZES[request.values["aspect_ratio"] or "1:1"]
        style = request.image.convert("RGB").resize(size, Image.Resampling.BILINEAR)
        fidelity = _or(request.values["fidelity"], FIDELITY_DEFAULT)
        return SketchBlend(style, uniform(size, 1 - fidelity)), size


COMPOSITION_FIDELITY_DEFAULT = 0.9
STYLE_STRENGTH_DEFAULT = 1.0
CHANGE_STRENGTH_DEFAULT = 0.9


class StyleTransfer(_StabilityService):
    """``stability.stable-style-transfer-v1:0``: the content restyled by the style image."""

    model_ids: ClassVar[tuple[str, ...]] = ("stability.stable-style-transfer-v1:0",)
    task = "style-transfer"
    image_key = "init_image"
    required = ("init_image", "style_image")
    optional = (
        "prompt", "negative_prompt", "seed", "output_format", "composition_fidelity",
        "style_strength", "change_strength",
    )  # fmt: skip

    def edit(self, request: Request) -> tuple[Edit, tuple[int, int]]:
        values = request.values
        fidelity = _or(values["composition_fidelity"], COMPOSITION_FIDELITY_DEFAULT)
        weight = (
            _or(values["style_strength"], STYLE_STRENGTH_DEFAULT)
            * _or(values["change_strength"], CHANGE_STRENGTH_DEFAULT)
            * (1 - fidelity / 2)
        )
        content = request.image.convert("RGB")
        return StyleMix(content, values["style_image"].convert("RGB"), weight), content.size

"""Stability AI SDXL 1.0 (``stability.stable-diffusion-xl-v1``): text-to-image,
image-to-image and masking (inpainting).

Limits from the AWS pages "Stability.ai Diffusion 1.0 text to image", "... image to image"
and "... image to image (masking)" (bedrock/latest/userguide/model-parameters-diffusion-1-0-
text-image.html, -image-image.html, -image-image-mask.html):
text_prompts[].text 0-2000 chars, optional weight (negative weight = negative prompt);
cfg_scale 0-35 (default 7); clip_guidance_preset and sampler enums; height/width one of nine
pairs; samples must be 1 ("Currently Amazon Bedrock supports generating one image");
seed 0-4294967295 where 0 or absent means random; steps 10-150 (default 30); style_preset enum;
extras is a free-form object.

The body's keys pick the variant: ``mask_source`` makes it masking, else ``init_image`` makes
it image-to-image, else it is text-to-image.  Image-to-image takes ``init_image_mode``
IMAGE_STRENGTH (``image_strength`` 0-1, default 0.35) or STEP_SCHEDULE
(``step_schedule_start``/``_end`` 0-1, start default 0.65); masking takes ``mask_source``
MASK_IMAGE_WHITE | MASK_IMAGE_BLACK | INIT_IMAGE_ALPHA and ``mask_image`` (same size as the
init image; not needed for INIT_IMAGE_ALPHA).  Neither takes width/height: the output has the
init image's size, which must be one of the nine sizes.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from typing import Any, ClassVar

from PIL import Image

from localbedrock.edits import (
    Edit,
    SketchBlend,
    dark_pixels,
    light_pixels,
    transparent_pixels,
    uniform,
)
from localbedrock.models.base import (
    GenerationJob,
    ModelHandler,
    check_keys,
    child,
    expect_object,
    get_int,
    get_number,
    get_string,
    malformed,
    type_name,
)
from localbedrock.models.images import decode_image, get_image, require_same_size, size_text

ALLOWED_SIZES: frozenset[tuple[int, int]] = frozenset(
    {
        (1024, 1024),
        (1152, 896),
        (1216, 832),
        (1344, 768),
        (1536, 640),
        (640, 1536),
        (768, 1344),
        (832, 1216),
        (896, 1152),
    }
)
CLIP_GUIDANCE_PRESETS = ("FAST_BLUE", "FAST_GREEN", "NONE", "SIMPLE", "SLOW", "SLOWER", "SLOWEST")
SAMPLERS = (
    "DDIM",
    "DDPM",
    "K_DPMPP_2M",
    "K_DPMPP_2S_ANCESTRAL",
    "K_DPM_2",
    "K_DPM_2_ANCESTRAL",
    "K_EULER",
    "K_EULER_ANCESTRAL",
    "K_HEUN",
    "K_LMS",
)
STYLE_PRESETS = (
    "3d-model",
    "analog-film",
    "anime",
    "cinematic",
    "comic-book",
    "digital-art",
    "enhance",
    "fantasy-art",
    "isometric",
    "line-art",
    "low-poly",
    "modeling-compound",
    "neon-punk",
    "origami",
    "photographic",
    "pixel-art",
    "tile-texture",
)
SEED_MAX = 4294967295
PROMPT_MAX = 2000
COMMON_KEYS = (
    "text_prompts",
    "cfg_scale",
    "clip_guidance_preset",
    "sampler",
    "samples",
    "seed",
    "steps",
    "style_preset",
    "extras",
)
TEXT_TO_IMAGE_KEYS = (*COMMON_KEYS, "height", "width")
IMAGE_TO_IMAGE_KEYS = (
    *COMMON_KEYS,
    "init_image",
    "init_image_mode",
    "image_strength",
    "step_schedule_start",
    "step_schedule_end",
)
MASKING_KEYS = (*COMMON_KEYS, "init_image", "mask_source", "mask_image")
# Which keys each init_image_mode takes; the other mode's keys are rejected.
INIT_IMAGE_MODE_KEYS: dict[str, tuple[str, ...]] = {
    "IMAGE_STRENGTH": ("image_strength",),
    "STEP_SCHEDULE": ("step_schedule_start", "step_schedule_end"),
}
IMAGE_STRENGTH_DEFAULT = 0.35
STEP_SCHEDULE_START_DEFAULT = 0.65
MASK_SOURCES = ("MASK_IMAGE_WHITE", "MASK_IMAGE_BLACK", "INIT_IMAGE_ALPHA")


class StableDiffusionXL(ModelHandler):
    """SDXL 1.0: ``{"result": "success", "artifacts": [{seed, base64, finishReason}]}``."""

    model_ids: ClassVar[tuple[str, ...]] = (
        "stability.stable-diffusion-xl-v1",
        "stability.stable-diffusion-xl-v1:0",
    )

    def parse(self, body: Any) -> GenerationJob:
        root = expect_object(body, "#")
        if "mask_source" in root:
            return self._masking(root)
        if "init_image" in root:
            return self._image_to_image(root)
        return self._text_to_image(root)

    def _text_to_image(self, root: dict[str, Any]) -> GenerationJob:
        check_keys(root, "#", TEXT_TO_IMAGE_KEYS, required=("text_prompts",))
        width = get_int(root, "width", "#")
        height = get_int(root, "height", "#")
        size = (1024 if width is None else width, 1024 if height is None else height)
        if size not in ALLOWED_SIZES:
            raise malformed(
                "#",
                f"width x height {size_text(size)} is not one of the allowed sizes "
                f"({_allowed_sizes()})",
            )
        return self._job(root, "text-to-image", size, None)

    def _image_to_image(self, root: dict[str, Any]) -> GenerationJob:
        check_keys(root, "#", IMAGE_TO_IMAGE_KEYS, required=("text_prompts", "init_image"))
        init = self._init_image(root)
        edit = SketchBlend(init.convert("RGB"), uniform(init.size, self._sketch_weight(root)))
        return self._job(root, "image-to-image", init.size, edit)

    @staticmethod
    def _sketch_weight(root: dict[str, Any]) -> float:
        """How much of the generated sketch shows through the init image."""
        mode = get_string(root, "init_image_mode", "#", enum=INIT_IMAGE_MODE_KEYS)
        mode = mode or "IMAGE_STRENGTH"
        for other, keys in INIT_IMAGE_MODE_KEYS.items():
            present = [key for key in keys if key in root]
            if other != mode and present:
                raise malformed("#", f"{present[0]} is not permitted with init_image_mode {mode}")
        strength = get_number(root, "image_strength", "#", minimum=0, maximum=1)
        start = get_number(root, "step_schedule_start", "#", minimum=0, maximum=1)
        get_number(root, "step_schedule_end", "#", minimum=0, maximum=1)
        if mode == "STEP_SCHEDULE":
            # The start is where on the noise schedule diffusion begins: 1 = from pure noise
            # (init image ignored), 0 = nothing left to denoise (init image kept).
            return STEP_SCHEDULE_START_DEFAULT if start is None else start
        # image_strength is how much of the init image survives.
        return 1 - (IMAGE_STRENGTH_DEFAULT if strength is None else strength)

    def _masking(self, root: dict[str, Any]) -> GenerationJob:
        check_keys(root, "#", MASKING_KEYS, required=("text_prompts", "init_image", "mask_source"))
        source = get_string(root, "mask_source", "#", enum=MASK_SOURCES)
        init = self._init_image(root)
        mask = get_image(root, "mask_image", "#")
        if mask is not None:
            require_same_size(mask, init.size, "#/mask_image")
        if source == "INIT_IMAGE_ALPHA":
            if not init.has_transparency_data:
                raise malformed(
                    "#/init_image", "image has no alpha channel for mask_source INIT_IMAGE_ALPHA"
                )
            region = transparent_pixels(init)
        elif mask is None:
            raise malformed("#", f"required key [mask_image] not found (mask_source {source})")
        else:
            region = light_pixels(mask) if source == "MASK_IMAGE_WHITE" else dark_pixels(mask)
        return self._job(root, "masking", init.size, SketchBlend(init.convert("RGB"), region))

    @staticmethod
    def _init_image(root: dict[str, Any]) -> Image.Image:
        init = decode_image(root["init_image"], "#/init_image")
        if init.size not in ALLOWED_SIZES:
            raise malformed(
                "#/init_image",
                f"image size {size_text(init.size)} is not one of the allowed sizes "
                f"({_allowed_sizes()})",
            )
        return init

    def _job(
        self, root: dict[str, Any], task: str, size: tuple[int, int], edit: Edit | None
    ) -> GenerationJob:
        """Validate the keys every variant shares and build the job."""
        positive, negative = self._prompts(root["text_prompts"])
        get_number(root, "cfg_scale", "#", minimum=0, maximum=35)
        get_string(root, "clip_guidance_preset", "#", enum=CLIP_GUIDANCE_PRESETS)
        get_string(root, "sampler", "#", enum=SAMPLERS)
        get_int(root, "samples", "#", minimum=1, maximum=1)
        get_int(root, "steps", "#", minimum=10, maximum=150)
        style = get_string(root, "style_preset", "#", enum=STYLE_PRESETS)
        if "extras" in root:
            expect_object(root["extras"], "#/extras")
        seed = get_int(root, "seed", "#", minimum=0, maximum=SEED_MAX)
        # 0 or absent means "random" for SDXL; the response reports the seed actually used.
        used_seed = seed if seed else secrets.randbelow(SEED_MAX) + 1
        return GenerationJob(
            task=task,
            prompt=positive,
            negative_prompt=negative,
            requested_seed=seed,
            seeds=(used_seed,),
            width=size[0],
            height=size[1],
            style=style,
            output_format="png",
            edit=edit,
        )

    @staticmethod
    def _prompts(value: Any) -> tuple[str, str | None]:
        """Join positive-weight texts into the prompt and negative-weight ones into the negative."""
        path = "#/text_prompts"
        if not isinstance(value, list):
            raise malformed(path, f"expected type: JSONArray, found: {type_name(value)}")
        if not value:
            raise malformed(path, "expected minimum item count: 1, found: 0")
        positive: list[str] = []
        negative: list[str] = []
        for index, item in enumerate(value):
            item_path = child(path, index)
            entry = expect_object(item, item_path)
            check_keys(entry, item_path, ("text", "weight"), required=("text",))
            text = get_string(entry, "text", item_path, max_len=PROMPT_MAX) or ""
            weight = get_number(entry, "weight", item_path)
            (negative if weight is not None and weight < 0 else positive).append(text)
        return " ".join(positive), (" ".join(negative) if negative else None)

    def respond(self, job: GenerationJob, images: list[bytes]) -> dict[str, Any]:
        return {
            "result": "success",
            "artifacts": [
                {
                    "seed": seed,
                    "base64": base64.b64encode(image).decode("ascii"),
                    "finishReason": "SUCCESS",
                }
                for seed, image in zip(job.seeds, images, strict=True)
            ],
        }

    def filtered(self, job: GenerationJob, placeholder: Callable[[], bytes]) -> dict[str, Any]:
        # SDXL answers 200 and marks the artifact; the image it carries is a blurred stand-in.
        return {
            "result": "success",
            "artifacts": [
                {
                    "seed": job.seeds[0],
                    "base64": base64.b64encode(placeholder()).decode("ascii"),
                    "finishReason": "CONTENT_FILTERED",
                }
            ],
        }


def _allowed_sizes() -> str:
    return ", ".join(size_text(size) for size in sorted(ALLOWED_SIZES))

"""Stability AI SDXL 1.0 (``stability.stable-diffusion-xl-v1``), text-to-image.

Limits from the AWS page "Stability.ai Diffusion 1.0 text to image"
(bedrock/latest/userguide/model-parameters-diffusion-1-0-text-image.html):
text_prompts[].text 0-2000 chars, optional weight (negative weight = negative prompt);
cfg_scale 0-35 (default 7); clip_guidance_preset and sampler enums; height/width one of nine
pairs; samples must be 1 ("Currently Amazon Bedrock supports generating one image");
seed 0-4294967295 where 0 or absent means random; steps 10-150 (default 30); style_preset enum;
extras is a free-form object.  Image-to-image (init_image) and masking are not emulated yet.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from typing import Any, ClassVar

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
    not_supported,
    seeds_from,
    type_name,
)

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
TEXT_TO_IMAGE_KEYS = (
    "text_prompts",
    "height",
    "width",
    "cfg_scale",
    "clip_guidance_preset",
    "sampler",
    "samples",
    "seed",
    "steps",
    "style_preset",
    "extras",
)
# Keys of the image-to-image and masking variants: recognised, not emulated yet.
IMAGE_INPUT_KEYS = ("init_image", "init_image_mode", "image_strength", "mask_source", "mask_image")


class StableDiffusionXL(ModelHandler):
    """SDXL 1.0: ``{"result": "success", "artifacts": [{seed, base64, finishReason}]}``."""

    model_ids: ClassVar[tuple[str, ...]] = (
        "stability.stable-diffusion-xl-v1",
        "stability.stable-diffusion-xl-v1:0",
    )

    def parse(self, body: Any) -> GenerationJob:
        root = expect_object(body, "#")
        present = [key for key in IMAGE_INPUT_KEYS if key in root]
        if present:
            raise not_supported(f"Image-to-image and masking ({', '.join(present)})")
        check_keys(root, "#", TEXT_TO_IMAGE_KEYS, required=("text_prompts",))
        positive, negative = self._prompts(root["text_prompts"])

        width = get_int(root, "width", "#")
        height = get_int(root, "height", "#")
        size = (1024 if width is None else width, 1024 if height is None else height)
        if size not in ALLOWED_SIZES:
            allowed = ", ".join(f"{w}x{h}" for w, h in sorted(ALLOWED_SIZES))
            raise malformed(
                "#",
                f"width x height {size[0]}x{size[1]} is not one of the allowed sizes ({allowed})",
            )
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
            prompt=positive,
            negative_prompt=negative,
            requested_seed=seed,
            seeds=seeds_from(used_seed, 1),
            width=size[0],
            height=size[1],
            style=style,
            output_format="png",
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

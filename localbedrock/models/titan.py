"""Amazon Titan Image Generator G1 v1 and v2, text-to-image; also the base of Nova Canvas.

Limits from the AWS page "Amazon Titan Image Generator G1 models"
(bedrock/latest/userguide/model-parameters-titan-image.html):
taskType TEXT_IMAGE | INPAINTING | OUTPAINTING | IMAGE_VARIATION, plus
COLOR_GUIDED_GENERATION and BACKGROUND_REMOVAL on v2; textToImageParams.text and
negativeText 1-512 characters; imageGenerationConfig numberOfImages 1-5 (default 1),
cfgScale 1.1-10 (default 8), seed 0-2147483646 (default 42), quality standard | premium,
width x height one of the 25 permissible sizes below.  The page states a default of 1408
for width and height, but 1408x1408 is not a permissible size, so 1024x1024 is used.
Image conditioning (conditionImage, v2) and the editing tasks are not emulated yet.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, ClassVar

from localbedrock.models.base import (
    BedrockError,
    GenerationJob,
    ModelHandler,
    check_keys,
    dispatch,
    expect_object,
    get_int,
    get_number,
    get_string,
    malformed,
    not_supported,
    seeds_from,
)

TITAN_SIZES: frozenset[tuple[int, int]] = frozenset(
    {
        (1024, 1024),
        (768, 768),
        (512, 512),
        (768, 1152),
        (384, 576),
        (1152, 768),
        (576, 384),
        (768, 1280),
        (384, 640),
        (1280, 768),
        (640, 384),
        (896, 1152),
        (448, 576),
        (1152, 896),
        (576, 448),
        (768, 1408),
        (384, 704),
        (1408, 768),
        (704, 384),
        (640, 1408),
        (320, 704),
        (1408, 640),
        (704, 320),
        (1152, 640),
        (1173, 640),
    }
)
CONTENT_FILTER_MESSAGE = (
    "This request has been blocked by our content filters. Our filters automatically flagged "
    "this prompt because it may conflict our AUP or AWS Responsible AI Policy. Please adjust "
    "your text prompt to submit a new request."
)
QUALITIES = ("standard", "premium")
CONFIG_KEYS = ("numberOfImages", "width", "height", "cfgScale", "seed", "quality")
CONDITIONING_KEYS = ("conditionImage", "controlMode", "controlStrength")
TITAN_V1_TASKS = {
    "TEXT_IMAGE": "textToImageParams",
    "INPAINTING": "inPaintingParams",
    "OUTPAINTING": "outPaintingParams",
    "IMAGE_VARIATION": "imageVariationParams",
}
TITAN_V2_TASKS = {
    **TITAN_V1_TASKS,
    "COLOR_GUIDED_GENERATION": "colorGuidedGenerationParams",
    "BACKGROUND_REMOVAL": "backgroundRemovalParams",
}


class AmazonImageModel(ModelHandler):
    """Request/response shape shared by Titan Image Generator and Nova Canvas."""

    tasks: ClassVar[dict[str, str]]  # taskType -> name of its parameters object
    prompt_max: ClassVar[int]
    seed_max: ClassVar[int]
    seed_default: ClassVar[int]
    conditioning_keys: ClassVar[tuple[str, ...]]  # image conditioning: recognised, not emulated
    text_extra_keys: ClassVar[tuple[str, ...]] = ()

    def parse(self, body: Any) -> GenerationJob:
        root = expect_object(body, "#")
        check_keys(root, "#", ("taskType", *self.tasks.values(), "imageGenerationConfig"))
        task = get_string(root, "taskType", "#")
        if task is None:
            raise malformed("#", "required key [taskType] not found")
        parsers: dict[str, Callable[[], GenerationJob] | None] = dict.fromkeys(self.tasks)
        parsers["TEXT_IMAGE"] = lambda: self._text_to_image(root)
        return dispatch(task, parsers, "#/taskType")

    def _text_to_image(self, root: dict[str, Any]) -> GenerationJob:
        check_keys(
            root,
            "#",
            ("taskType", "textToImageParams", "imageGenerationConfig"),
            required=("textToImageParams",),
        )
        path = "#/textToImageParams"
        params = expect_object(root["textToImageParams"], path)
        conditioning = [key for key in self.conditioning_keys if key in params]
        if conditioning:
            raise not_supported(f"Image conditioning ({', '.join(conditioning)})")
        check_keys(params, path, ("text", "negativeText", *self.text_extra_keys), ("text",))
        text = get_string(params, "text", path, min_len=1, max_len=self.prompt_max) or ""
        negative = get_string(params, "negativeText", path, min_len=1, max_len=self.prompt_max)
        style = self.style(params, path)

        config_path = "#/imageGenerationConfig"
        config = expect_object(root.get("imageGenerationConfig", {}), config_path)
        check_keys(config, config_path, CONFIG_KEYS)
        count = get_int(config, "numberOfImages", config_path, minimum=1, maximum=5) or 1
        get_number(config, "cfgScale", config_path, minimum=1.1, maximum=10)
        get_string(config, "quality", config_path, enum=QUALITIES)
        seed = get_int(config, "seed", config_path, minimum=0, maximum=self.seed_max)
        width, height = self.size(config, config_path)
        return GenerationJob(
            prompt=text,
            negative_prompt=negative,
            requested_seed=seed,
            seeds=seeds_from(self.seed_default if seed is None else seed, count),
            width=width,
            height=height,
            style=style,
            output_format="png",
        )

    def style(self, params: dict[str, Any], path: str) -> str | None:
        """The visual style of the request; Titan has none."""
        return None

    def size(self, config: dict[str, Any], path: str) -> tuple[int, int]:
        """Validated (width, height) of the output."""
        width = get_int(config, "width", path)
        height = get_int(config, "height", path)
        width, height = (1024 if width is None else width, 1024 if height is None else height)
        if (width, height) not in TITAN_SIZES:
            allowed = ", ".join(f"{w}x{h}" for w, h in sorted(TITAN_SIZES))
            raise malformed(
                path, f"width x height {width}x{height} is not a permissible size ({allowed})"
            )
        return width, height

    def respond(self, job: GenerationJob, images: list[bytes]) -> dict[str, Any]:
        return {
            "images": [base64.b64encode(image).decode("ascii") for image in images],
            "error": None,
        }

    def filtered(self, job: GenerationJob, placeholder: Callable[[], bytes]) -> dict[str, Any]:
        # Amazon image models reject a flagged prompt with a 400 instead of a filtered image.
        raise BedrockError("ValidationException", CONTENT_FILTER_MESSAGE)


class TitanImageV1(AmazonImageModel):
    """``amazon.titan-image-generator-v1``."""

    model_ids: ClassVar[tuple[str, ...]] = (
        "amazon.titan-image-generator-v1",
        "amazon.titan-image-generator-v1:0",
    )
    tasks: ClassVar[dict[str, str]] = TITAN_V1_TASKS
    prompt_max: ClassVar[int] = 512
    seed_max: ClassVar[int] = 2147483646
    seed_default: ClassVar[int] = 42
    conditioning_keys: ClassVar[tuple[str, ...]] = ()


class TitanImageV2(TitanImageV1):
    """``amazon.titan-image-generator-v2:0``: adds conditioning, colour guidance, bg removal."""

    model_ids: ClassVar[tuple[str, ...]] = ("amazon.titan-image-generator-v2:0",)
    tasks: ClassVar[dict[str, str]] = TITAN_V2_TASKS
    conditioning_keys: ClassVar[tuple[str, ...]] = CONDITIONING_KEYS

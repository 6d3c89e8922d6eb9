"""Amazon Titan Image Generator G1 v1 and v2, and the request shape Nova Canvas shares.

Limits from the AWS page "Amazon Titan Image Generator G1 models"
(bedrock/latest/userguide/model-parameters-titan-image.html):
taskType TEXT_IMAGE | INPAINTING | OUTPAINTING | IMAGE_VARIATION, plus
COLOR_GUIDED_GENERATION and BACKGROUND_REMOVAL on v2; textToImageParams.text and
negativeText 1-512 characters; imageGenerationConfig numberOfImages 1-5 (default 1),
cfgScale 1.1-10 (default 8), seed 0-2147483646 (default 42), quality standard | premium,
width x height one of the 25 permissible sizes below.  The page states a default of 1408
for width and height, but 1408x1408 is not a permissible size, so 1024x1024 is used.

Editing tasks take base64 PNG or JPEG input images, RGB without transparency, 256-1408 px
per side (Nova: see nova.py):

* INPAINTING / OUTPAINTING: ``image``, ``text`` (optional for inpainting, required for
  outpainting), ``negativeText`` and exactly one of ``maskImage`` (same size as the image;
  black pixels are inside the mask) or ``maskPrompt``; OUTPAINTING also ``outPaintingMode``
  DEFAULT | PRECISE, v2 also ``returnMask``.  No width/height: the output has the image's
  size.  Inpainting regenerates the inside of the mask, outpainting the outside.
* IMAGE_VARIATION: ``images`` (v1: exactly one; v2 and Nova: 1-5), ``text``,
  ``negativeText``, ``similarityStrength`` 0.2-1.0 (v2 and Nova; default 0.7); the output
  size comes from the config like text-to-image.
* BACKGROUND_REMOVAL (v2 and Nova): ``image`` only, and no imageGenerationConfig.

Image conditioning (conditionImage, v2) and colour guidance are not emulated yet.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, ClassVar

from PIL import Image

from localbedrock.edits import (
    BackgroundRemoval,
    Edit,
    SketchBlend,
    average,
    centre_ellipse,
    dark_pixels,
    invert,
    uniform,
)
from localbedrock.models.base import (
    BedrockError,
    GenerationJob,
    ModelHandler,
    check_keys,
    child,
    dispatch,
    expect_object,
    get_bool,
    get_int,
    get_number,
    get_string,
    malformed,
    not_supported,
    type_name,
)
from localbedrock.models.images import (
    decode_image,
    require_opaque,
    require_same_size,
    require_sides,
    size_text,
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
CONFIG_PATH = "#/imageGenerationConfig"
CONFIG_KEYS = ("numberOfImages", "width", "height", "cfgScale", "seed", "quality")
# In- and outpainting keep the input's size, so their config has no width and height.
MASK_EDIT_CONFIG_KEYS = ("numberOfImages", "cfgScale", "seed", "quality")
CONDITIONING_KEYS = ("conditionImage", "controlMode", "controlStrength")
OUTPAINTING_MODES = ("DEFAULT", "PRECISE")
SIMILARITY_DEFAULT = 0.7
INPUT_SIDE_MIN = 256
INPUT_SIDE_MAX = 1408
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
    variation_images_max: ClassVar[int]
    has_similarity_strength: ClassVar[bool]
    has_return_mask: ClassVar[bool] = False

    def parse(self, body: Any) -> GenerationJob:
        root = expect_object(body, "#")
        check_keys(root, "#", ("taskType", *self.tasks.values(), "imageGenerationConfig"))
        task = get_string(root, "taskType", "#")
        if task is None:
            raise malformed("#", "required key [taskType] not found")
        emulated: dict[str, Callable[[], GenerationJob]] = {
            "TEXT_IMAGE": lambda: self._text_to_image(root),
            "INPAINTING": lambda: self._mask_edit(root, "INPAINTING"),
            "OUTPAINTING": lambda: self._mask_edit(root, "OUTPAINTING"),
            "IMAGE_VARIATION": lambda: self._variation(root),
            "BACKGROUND_REMOVAL": lambda: self._background_removal(root),
        }
        # Only the model's own tasks are valid; of those, some are not emulated (None).
        return dispatch(task, {name: emulated.get(name) for name in self.tasks}, "#/taskType")

    def _params(self, root: dict[str, Any], task: str, *, config: bool = True) -> dict[str, Any]:
        """The task's parameters object, after checking the keys of the body's root."""
        key = self.tasks[task]
        allowed = ("taskType", key, "imageGenerationConfig") if config else ("taskType", key)
        check_keys(root, "#", allowed, required=(key,))
        return expect_object(root[key], f"#/{key}")

    def _text_to_image(self, root: dict[str, Any]) -> GenerationJob:
        params = self._params(root, "TEXT_IMAGE")
        path = "#/textToImageParams"
        conditioning = [key for key in self.conditioning_keys if key in params]
        if conditioning:
            raise not_supported(f"Image conditioning ({', '.join(conditioning)})")
        check_keys(params, path, ("text", "negativeText", *self.text_extra_keys), ("text",))
        text, negative = self._texts(params, path)
        style = self.style(params, path)
        config, count, seed = self._config(root, CONFIG_KEYS)
        size = self.size(config, CONFIG_PATH)
        return self._job(
            "TEXT_IMAGE", text, negative, seed=seed, count=count, size=size, style=style
        )

    def _mask_edit(self, root: dict[str, Any], task: str) -> GenerationJob:
        """INPAINTING or OUTPAINTING: regenerate the inside or the outside of the mask."""
        params = self._params(root, task)
        path = f"#/{self.tasks[task]}"
        allowed = ["image", "text", "negativeText", "maskImage", "maskPrompt"]
        if task == "OUTPAINTING":
            allowed.append("outPaintingMode")
        if self.has_return_mask:
            allowed.append("returnMask")
        required = ("image", "text") if task == "OUTPAINTING" else ("image",)
        check_keys(params, path, allowed, required)
        image = self._input_image(params["image"], child(path, "image"))
        text, negative = self._texts(params, path)
        # Both are validated only: the placeholder keeps the inside of the mask exactly in
        # either mode and has no mask to return.
        get_string(params, "outPaintingMode", path, enum=OUTPAINTING_MODES)
        get_bool(params, "returnMask", path)
        inside = self._mask_inside(params, path, image.size)
        region = inside if task == "INPAINTING" else invert(inside)
        _, count, seed = self._config(root, MASK_EDIT_CONFIG_KEYS)
        edit = SketchBlend(image, region)
        return self._job(task, text, negative, seed=seed, count=count, size=image.size, edit=edit)

    def _mask_inside(self, params: dict[str, Any], path: str, size: tuple[int, int]) -> Image.Image:
        """255 inside the mask: the mask image's black pixels, or the mask prompt's region."""
        given = [key for key in ("maskImage", "maskPrompt") if key in params]
        if len(given) != 1:
            raise malformed(
                path, f"expected exactly one of [maskImage, maskPrompt], found: {len(given)}"
            )
        if given == ["maskPrompt"]:
            get_string(params, "maskPrompt", path, min_len=1, max_len=self.prompt_max)
            return centre_ellipse(size)
        where = child(path, "maskImage")
        mask = decode_image(params["maskImage"], where)
        require_same_size(mask, size, where)
        return dark_pixels(mask)

    def _variation(self, root: dict[str, Any]) -> GenerationJob:
        params = self._params(root, "IMAGE_VARIATION")
        path = "#/imageVariationParams"
        allowed = ["images", "text", "negativeText"]
        if self.has_similarity_strength:
            allowed.append("similarityStrength")
        check_keys(params, path, allowed, required=("images",))
        images = self._reference_images(params["images"], child(path, "images"))
        text, negative = self._texts(params, path)
        similarity = get_number(params, "similarityStrength", path, minimum=0.2, maximum=1.0)
        config, count, seed = self._config(root, CONFIG_KEYS)
        size = self.size(config, CONFIG_PATH)
        # The more similar the output must be, the less of the sketch shows.
        weight = 1 - (SIMILARITY_DEFAULT if similarity is None else similarity)
        edit = SketchBlend(average(images, size), uniform(size, weight))
        return self._job(
            "IMAGE_VARIATION", text, negative, seed=seed, count=count, size=size, edit=edit
        )

    def _reference_images(self, value: Any, path: str) -> list[Image.Image]:
        if not isinstance(value, list):
            raise malformed(path, f"expected type: JSONArray, found: {type_name(value)}")
        if not value:
            raise malformed(path, "expected minimum item count: 1, found: 0")
        if len(value) > self.variation_images_max:
            raise malformed(
                path,
                f"expected maximum item count: {self.variation_images_max}, found: {len(value)}",
            )
        return [self._input_image(item, child(path, index)) for index, item in enumerate(value)]

    def _background_removal(self, root: dict[str, Any]) -> GenerationJob:
        params = self._params(root, "BACKGROUND_REMOVAL", config=False)
        path = "#/backgroundRemovalParams"
        check_keys(params, path, ("image",), required=("image",))
        image = self._input_image(params["image"], child(path, "image"))
        return self._job(
            "BACKGROUND_REMOVAL",
            "",
            None,
            seed=None,
            count=1,
            size=image.size,
            edit=BackgroundRemoval(image),
        )

    def _texts(self, params: dict[str, Any], path: str) -> tuple[str, str | None]:
        """(text, negativeText) within the model's length limits; text "" when absent."""
        text = get_string(params, "text", path, min_len=1, max_len=self.prompt_max) or ""
        negative = get_string(params, "negativeText", path, min_len=1, max_len=self.prompt_max)
        return text, negative

    def _config(
        self, root: dict[str, Any], keys: tuple[str, ...]
    ) -> tuple[dict[str, Any], int, int | None]:
        """(imageGenerationConfig, number of images, seed as sent) after checking ``keys``."""
        config = expect_object(root.get("imageGenerationConfig", {}), CONFIG_PATH)
        check_keys(config, CONFIG_PATH, keys)
        count = get_int(config, "numberOfImages", CONFIG_PATH, minimum=1, maximum=5) or 1
        get_number(config, "cfgScale", CONFIG_PATH, minimum=1.1, maximum=10)
        get_string(config, "quality", CONFIG_PATH, enum=QUALITIES)
        seed = get_int(config, "seed", CONFIG_PATH, minimum=0, maximum=self.seed_max)
        return config, count, seed

    def _input_image(self, value: Any, where: str) -> Image.Image:
        """A decoded input image within the model's limits, as RGB."""
        image = require_opaque(decode_image(value, where), where)
        self.check_input_size(image, where)
        return image

    def _job(
        self,
        task: str,
        text: str,
        negative: str | None,
        *,
        seed: int | None,
        count: int,
        size: tuple[int, int],
        style: str | None = None,
        edit: Edit | None = None,
    ) -> GenerationJob:
        return GenerationJob(
            task=task,
            prompt=text,
            negative_prompt=negative,
            requested_seed=seed,
            # One seed drives the whole call: its images differ from one another, yet none
            # of them is what the seed alone (n=1) or seed+1 would give.
            seeds=(self.seed_default if seed is None else seed,) * count,
            width=size[0],
            height=size[1],
            style=style,
            output_format="png",
            edit=edit,
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
            allowed = ", ".join(size_text(size) for size in sorted(TITAN_SIZES))
            raise malformed(
                path, f"width x height {width}x{height} is not a permissible size ({allowed})"
            )
        return width, height

    def check_input_size(self, image: Image.Image, where: str) -> None:
        """Reject an input image outside the model's limits (Titan: 256-1408 px per side)."""
        require_sides(image, where, INPUT_SIDE_MIN, INPUT_SIDE_MAX)

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
    variation_images_max: ClassVar[int] = 1
    has_similarity_strength: ClassVar[bool] = False


class TitanImageV2(TitanImageV1):
    """``amazon.titan-image-generator-v2:0``: adds conditioning, colour guidance, bg removal."""

    model_ids: ClassVar[tuple[str, ...]] = ("amazon.titan-image-generator-v2:0",)
    tasks: ClassVar[dict[str, str]] = TITAN_V2_TASKS
    conditioning_keys: ClassVar[tuple[str, ...]] = CONDITIONING_KEYS
    variation_images_max: ClassVar[int] = 5
    has_similarity_strength: ClassVar[bool] = True
    has_return_mask: ClassVar[bool] = True

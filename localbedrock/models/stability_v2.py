"""Stability AI SD3.5 Large (text-to-image, image-to-image), Stable Image Core and Ultra
(text-to-image).

Fields and limits per model, from the AWS Bedrock user guide pages
"Stability.ai Stable Diffusion 3.5 Large" (model-parameters-diffusion-3-5-large.html),
"Stable Image Core request and response"
(model-parameters-diffusion-stable-image-core-text-image-request-response.html) and
"Stable Image Ultra request and response"
(model-parameters-diffusion-stable-ultra-text-image-request-response.html):

* prompt: required, 0-10,000 characters; negative_prompt: at most 10,000 characters.
* aspect_ratio: 16:9, 1:1, 21:9, 2:3, 3:2, 4:5, 5:4, 9:16, 9:21 (default 1:1).
* seed: 0 or absent = random; max 4294967294 for SD3.5, 4294967295 for Core and Ultra.
* output_format: jpeg | png | webp for SD3.5, jpeg | png for Core and Ultra (default png).
* mode: text-to-image | image-to-image for SD3.5, text-to-image for Core and Ultra.
* style_preset: none of them (Core's page lists no such field, though Stability's own REST
  API takes one: a Bedrock body with it is refused here, as an extraneous key).

The pages give outputs of about one megapixel, 640-1,536 px per side; the pixel size for
each aspect ratio is the standard Stability 1 MP table below.

SD3.5 image-to-image (``mode: image-to-image``) requires ``image`` and ``strength`` (0-1: 0
keeps the input, 1 ignores it) and takes no ``aspect_ratio``: the output has the input's
size.  The input needs at least 64 px per side and at most 9,437,184 pixels (limits taken
from our service's requirements; not found on the Bedrock page).  Ultra's image-to-image is
recognised but not emulated; Core has none.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from localbedrock.edits import SketchBlend, uniform
from localbedrock.models.base import (
    GenerationJob,
    ModelHandler,
    check_keys,
    dispatch,
    expect_object,
    get_int,
    get_number,
    get_string,
    not_supported,
)
from localbedrock.models.images import decode_image, require_max_pixels, require_sides

ASPECT_RATIO_SIZES: dict[str, tuple[int, int]] = {
    "16:9": (1344, 768),
    "1:1": (1024, 1024),
    "21:9": (1536, 640),
    "2:3": (832, 1216),
    "3:2": (1216, 832),
    "4:5": (896, 1088),
    "5:4": (1088, 896),
    "9:16": (768, 1344),
    "9:21": (640, 1536),
}
PROMPT_MAX = 10_000
IMAGE_SIDE_MIN = 64
IMAGE_PIXELS_MAX = 9_437_184
FILTERED_REASON = "Filter reason: prompt"


@dataclass(frozen=True)
class _Spec:
    """What one Stability v2 model accepts."""

    seed_max: int
    output_formats: tuple[str, ...]
    image_to_image: bool  # mode image-to-image (image + strength), emulated
    unemulated_image_input: bool  # the real model takes image + strength; localbedrock not


class _StabilityV2(ModelHandler):
    """Shared request/response handling; subclasses only declare their ``spec``."""

    spec: ClassVar[_Spec]

    def parse(self, body: Any) -> GenerationJob:
        root = expect_object(body, "#")
        if self.spec.unemulated_image_input and ("image" in root or "strength" in root):
            raise not_supported("Image-to-image (image, strength)")
        mode = get_string(root, "mode", "#")
        tasks: dict[str, Callable[[], GenerationJob] | None] = {
            "text-to-image": lambda: self._text_to_image(root)
        }
        if self.spec.image_to_image:
            tasks["image-to-image"] = lambda: self._image_to_image(root)
        return dispatch("text-to-image" if mode is None else mode, tasks, "#/mode")

    def _text_to_image(self, root: dict[str, Any]) -> GenerationJob:
        allowed = ["prompt", "negative_prompt", "aspect_ratio", "seed", "output_format", "mode"]
        check_keys(root, "#", allowed, required=("prompt",))
        ratio = get_string(root, "aspect_ratio", "#", enum=ASPECT_RATIO_SIZES) or "1:1"
        return self._job(root, "text-to-image", ASPECT_RATIO_SIZES[ratio], None)

    def _image_to_image(self, root: dict[str, Any]) -> GenerationJob:
        allowed = ["prompt", "negative_prompt", "image", "strength", "seed", "output_format"]
        check_keys(root, "#", [*allowed, "mode"], required=("prompt", "mode", "image", "strength"))
        image = decode_image(root["image"], "#/image")
        require_sides(image, "#/image", IMAGE_SIDE_MIN, None)
        require_max_pixels(image, "#/image", IMAGE_PIXELS_MAX)
        strength = get_number(root, "strength", "#", minimum=0, maximum=1)
        assert strength is not None  # a required key
        # strength is how much of the input is ignored: exactly the sketch's weight.
        edit = SketchBlend(image.convert("RGB"), uniform(image.size, strength))
        return self._job(root, "image-to-image", image.size, edit)

    def _job(
        self, root: dict[str, Any], task: str, size: tuple[int, int], edit: SketchBlend | None
    ) -> GenerationJob:
        """Validate the keys both modes share and build the job."""
        prompt = get_string(root, "prompt", "#", max_len=PROMPT_MAX) or ""
        negative = get_string(root, "negative_prompt", "#", max_len=PROMPT_MAX)
        fmt = get_string(root, "output_format", "#", enum=self.spec.output_formats) or "png"
        seed = get_int(root, "seed", "#", minimum=0, maximum=self.spec.seed_max)
        used_seed = seed if seed else secrets.randbelow(self.spec.seed_max) + 1
        return GenerationJob(
            task=task,
            prompt=prompt,
            negative_prompt=negative,
            requested_seed=seed,
            seeds=(used_seed,),
            width=size[0],
            height=size[1],
            style=None,
            output_format=fmt,
            edit=edit,
        )

    def respond(self, job: GenerationJob, images: list[bytes]) -> dict[str, Any]:
        return {
            "seeds": list(job.seeds),
            "finish_reasons": [None] * len(images),
            "images": [base64.b64encode(image).decode("ascii") for image in images],
        }

    def filtered(self, job: GenerationJob, placeholder: Callable[[], bytes]) -> dict[str, Any]:
        # The documented shape of a filtered answer: a 200 with only the finish reason.
        return {"finish_reasons": [FILTERED_REASON]}


class StableDiffusion35Large(_StabilityV2):
    """``stability.sd3-5-large-v1:0``."""

    model_ids: ClassVar[tuple[str, ...]] = ("stability.sd3-5-large-v1:0",)
    spec: ClassVar[_Spec] = _Spec(
        seed_max=4294967294,
        output_formats=("jpeg", "png", "webp"),
        image_to_image=True,
        unemulated_image_input=False,
    )


class StableImageCore(_StabilityV2):
    """``stability.stable-image-core-v1:1``."""

    model_ids: ClassVar[tuple[str, ...]] = ("stability.stable-image-core-v1:1",)
    spec: ClassVar[_Spec] = _Spec(
        seed_max=4294967295,
        output_formats=("jpeg", "png"),
        image_to_image=False,
        unemulated_image_input=False,
    )


class StableImageUltra(_StabilityV2):
    """``stability.stable-image-ultra-v1:1``."""

    model_ids: ClassVar[tuple[str, ...]] = ("stability.stable-image-ultra-v1:1",)
    spec: ClassVar[_Spec] = _Spec(
        seed_max=4294967295,
        output_formats=("jpeg", "png"),
        image_to_image=False,
        unemulated_image_input=True,
    )

"""Request builders and response parsers for each Bedrock image model family.

Written from AWS's model parameter pages (docs/models.md). Optional fields without a value are
left out of the body entirely: Bedrock rejects empty strings such as negativeText "".
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from imagegen import catalog, errors
from imagegen.errors import ServiceError
from imagegen.plan import GenerationPlan, ModelCall


@dataclass(frozen=True)
class Artifact:
    """One image a model returned, with the seed of the call that made it."""

    data: bytes
    seed: int


@dataclass(frozen=True)
class ModelInputs:
    """An edit's prepared input images, base64-encoded as every model's body wants them."""

    source: str | None = None
    mask: str | None = None
    references: tuple[str, ...] = ()


def build_body(
    plan: GenerationPlan, call: ModelCall, inputs: ModelInputs | None = None
) -> dict[str, Any]:
    family = plan.spec.family
    inputs = inputs or ModelInputs()
    if family == "stability-sdxl":
        return _sdxl_body(plan, call, inputs)
    if family == "stability-v2":
        return _stability_v2_body(plan, call, inputs)
    if family == "stability-services":
        return _stability_service_body(plan, call, inputs)
    if family in ("titan", "nova"):
        return _amazon_body(plan, call, inputs)
    raise ValueError(f"no request builder for family {family!r}")


def parse_response(plan: GenerationPlan, call: ModelCall, body: dict[str, Any]) -> list[Artifact]:
    family = plan.spec.family
    if family == "stability-sdxl":
        return _sdxl_parse(call, body)
    if family in ("stability-v2", "stability-services"):
        return _stability_v2_parse(call, body)
    return _amazon_parse(call, body)


def _sdxl_body(plan: GenerationPlan, call: ModelCall, inputs: ModelInputs) -> dict[str, Any]:
    prompts = [{"text": plan.prompt, "weight": 1.0}]
    if plan.negative_prompt:
        prompts.append({"text": plan.negative_prompt, "weight": -1.0})
    body: dict[str, Any] = {"text_prompts": prompts}
    if plan.task == catalog.TEXT_TO_IMAGE:
        body["width"] = plan.width
        body["height"] = plan.height
    else:
        # The output takes the init image's size; SDXL refuses width/height beside it.
        body["init_image"] = inputs.source
    if plan.task == catalog.IMAGE_TO_IMAGE:
        body["init_image_mode"] = "IMAGE_STRENGTH"
        body["image_strength"] = plan.image_strength
    elif plan.task in (catalog.INPAINT, catalog.OUTPAINT):
        body["mask_source"] = "MASK_IMAGE_WHITE"
        body["mask_image"] = inputs.mask
    body.update(seed=call.seed, samples=call.count, steps=plan.steps)
    if plan.cfg_scale is not None:
        body["cfg_scale"] = plan.cfg_scale
    if plan.style_preset:
        body["style_preset"] = plan.style_preset
    return body


def _sdxl_parse(call: ModelCall, body: dict[str, Any]) -> list[Artifact]:
    artifacts = body.get("artifacts") or []
    if not artifacts:
        raise ServiceError(errors.GENERATION_FAILED, "the model returned no image")
    found = []
    for artifact in artifacts:
        reason = artifact.get("finishReason")
        if reason == "CONTENT_FILTERED":
            raise ServiceError(
                errors.UNSAFE_PROMPT,
                "the model's content filter blocked this generation",
                {"safety_issues": ["output blocked by the model's content filter"]},
            )
        if reason not in (None, "SUCCESS"):
            raise ServiceError(errors.GENERATION_FAILED, f"the model finished with {reason}")
        found.append(Artifact(_decode(artifact.get("base64")), artifact.get("seed", call.seed)))
    return found


def _stability_v2_body(
    plan: GenerationPlan, call: ModelCall, inputs: ModelInputs
) -> dict[str, Any]:
    body: dict[str, Any] = {"prompt": plan.prompt}
    if plan.task == catalog.IMAGE_TO_IMAGE:
        # Stability's strength is how much the input is changed: the inverse of ours (and of
        # SDXL's image_strength), which is how much of the input is kept.
        body["mode"] = "image-to-image"
        body["image"] = inputs.source
        body["strength"] = round(1.0 - (plan.image_strength or 0.0), 4)
    else:
        body["aspect_ratio"] = plan.aspect_ratio
    body.update(seed=call.seed, output_format="png")
    if plan.negative_prompt:
        body["negative_prompt"] = plan.negative_prompt
    if plan.style_preset:  # Stable Image Core only: the others' catalogue entries have none
        body["style_preset"] = plan.style_preset
    return body


def _stability_service_body(
    plan: GenerationPlan, call: ModelCall, inputs: ModelInputs
) -> dict[str, Any]:
    """An image service's body: only the fields AWS's page lists for that service."""
    spec = plan.spec
    values: dict[str, Any] = {
        "prompt": plan.prompt or None,
        "image": inputs.source,
        # Style transfer names its content image init_image; its style image is the reference.
        "init_image": inputs.source,
        "style_image": inputs.references[0] if inputs.references else None,
        "search_prompt": plan.search_prompt,
        "select_prompt": plan.select_prompt,
        "mask": inputs.mask,
        "negative_prompt": plan.negative_prompt,
        "creativity": plan.creativity,
        "control_strength": plan.control_strength,
        "aspect_ratio": plan.aspect_ratio,
        "fidelity": plan.fidelity,
        "composition_fidelity": plan.composition_fidelity,
        "style_strength": plan.style_strength,
        "change_strength": plan.change_strength,
        "style_preset": plan.style_preset,
        "seed": call.seed,
        "output_format": "png",
    }
    body = {
        field: value
        for field, value in values.items()
        if field in spec.body_fields and value is not None
    }
    missing = [field for field in spec.required_fields if field not in body]
    if missing:
        raise ValueError(f"{spec.model_id} needs {missing}: the plan has none")
    return body


def _stability_v2_parse(call: ModelCall, body: dict[str, Any]) -> list[Artifact]:
    reasons = [r for r in body.get("finish_reasons") or [] if r]
    if any(not str(r).startswith("Filter reason") for r in reasons):
        # "Inference error": the model failed, not the content filter.
        raise ServiceError(errors.GENERATION_FAILED, f"the model finished with {reasons}")
    if reasons:
        raise ServiceError(
            errors.UNSAFE_PROMPT,
            "the model's content filter blocked this generation",
            {"safety_issues": reasons},
        )
    images = body.get("images") or []
    if not images:
        raise ServiceError(errors.GENERATION_FAILED, "the model returned no image")
    seeds = body.get("seeds") or []
    return [
        Artifact(_decode(image), seeds[i] if i < len(seeds) else call.seed)
        for i, image in enumerate(images)
    ]


_AMAZON_TASKS = {
    catalog.TEXT_TO_IMAGE: ("TEXT_IMAGE", "textToImageParams"),
    catalog.INPAINT: ("INPAINTING", "inPaintingParams"),
    catalog.OUTPAINT: ("OUTPAINTING", "outPaintingParams"),
    catalog.VARIATION: ("IMAGE_VARIATION", "imageVariationParams"),
    catalog.REMOVE_BACKGROUND: ("BACKGROUND_REMOVAL", "backgroundRemovalParams"),
}


def _amazon_body(plan: GenerationPlan, call: ModelCall, inputs: ModelInputs) -> dict[str, Any]:
    task_type, params_key = _AMAZON_TASKS[plan.task]
    if plan.task == catalog.REMOVE_BACKGROUND:
        # The one task with no generation config: it returns one image, the input's size.
        return {"taskType": task_type, params_key: {"image": inputs.source}}
    params: dict[str, Any] = {}
    if plan.task == catalog.VARIATION:
        params["images"] = list(inputs.references)
    elif plan.task != catalog.TEXT_TO_IMAGE:
        params["image"] = inputs.source
    if plan.prompt:
        params["text"] = plan.prompt
    if plan.negative_prompt:
        params["negativeText"] = plan.negative_prompt
    if plan.task in (catalog.INPAINT, catalog.OUTPAINT):
        if plan.mask_prompt:
            params["maskPrompt"] = plan.mask_prompt
        else:
            params["maskImage"] = inputs.mask
    if plan.task == catalog.OUTPAINT:
        params["outPaintingMode"] = (plan.outpaint_mode or "default").upper()
    if plan.task == catalog.VARIATION and plan.similarity_strength is not None:
        params["similarityStrength"] = plan.similarity_strength
    if plan.style_preset:  # Nova text-to-image only: Titan's catalogue entry has no presets
        params["style"] = plan.style_preset
    config: dict[str, Any] = {"numberOfImages": call.count}
    if plan.task in (catalog.TEXT_TO_IMAGE, catalog.VARIATION):
        # Inpainting and outpainting keep the input's size and take no width/height.
        config.update(width=plan.width, height=plan.height)
    config.update(seed=call.seed, quality="premium" if plan.quality == "hd" else "standard")
    if plan.cfg_scale is not None:
        config["cfgScale"] = plan.cfg_scale
    return {"taskType": task_type, params_key: params, "imageGenerationConfig": config}


def _amazon_parse(call: ModelCall, body: dict[str, Any]) -> list[Artifact]:
    if body.get("error"):
        raise ServiceError(errors.GENERATION_FAILED, f"the model reported: {body['error']}")
    images = body.get("images") or []
    if not images:
        raise ServiceError(errors.GENERATION_FAILED, "the model returned no image")
    # Titan and Nova report one seed per call, not per image.
    return [Artifact(_decode(image), call.seed) for image in images]


def _decode(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ServiceError(errors.GENERATION_FAILED, "the model returned no image data")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ServiceError(
            errors.GENERATION_FAILED, "the model returned malformed image data"
        ) from exc

"""Editing requests (POST /v1/images/edits): validation, model choice, input preparation, plan.

An edit takes one to five input images. The API decodes and checks them (input_images), this
module turns them into exactly what the chosen model takes (RGB, the model's size rules, a
binary mask in the model's own convention) and plans the calls. The worker only reads the
prepared files back from the blob store.

Mask convention of our API: white (or transparent, OpenAI-style) = the pixels to generate,
black = the pixels to keep. Titan and Nova read a mask the other way round for inpainting
(black is "inside the mask", the region they change), and for outpainting they keep the
inside of the mask, so the mask is inverted for inpainting only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from PIL import Image, ImageChops
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from imagegen import catalog, errors
from imagegen.errors import ServiceError
from imagegen.generation import (
    JobOptions,
    check_prompt_text,
    check_prompts,
    choose_seed,
    json_number,
    resolve_controls,
    resolve_model,
    validate_body,
)
from imagegen.input_images import (
    InputImage,
    alpha_mask,
    encode_png,
    extend_canvas,
    fit,
    mask_from,
    target_size,
    to_rgb,
)
from imagegen.plan import GenerationPlan

IMAGE_ID_PATTERN = r"^img_[0-9a-f]{32}$"
ImageId = Annotated[str, Field(pattern=IMAGE_ID_PATTERN)]
MAX_EXTEND_PIXELS = 2048
DEFAULT_IMAGE_STRENGTH = 0.5  # the seed's default
# The parameters that only make sense for some tasks; anything else is refused, not ignored.
_TASK_PARAMETERS: dict[str, frozenset[str]] = {
    "image_strength": frozenset({catalog.IMAGE_TO_IMAGE}),
    "similarity_strength": frozenset({catalog.VARIATION}),
    "mask_image_id": frozenset({catalog.INPAINT, catalog.OUTPAINT, catalog.ERASE}),
    "mask_image_base64": frozenset({catalog.INPAINT, catalog.OUTPAINT, catalog.ERASE}),
    "mask_prompt": frozenset({catalog.INPAINT, catalog.OUTPAINT}),
    "extend": frozenset({catalog.OUTPAINT}),
    "mode": frozenset({catalog.OUTPAINT, catalog.UPSCALE}),
    "creativity": frozenset({catalog.UPSCALE}),
    "search_prompt": frozenset({catalog.SEARCH_REPLACE}),
    "select_prompt": frozenset({catalog.SEARCH_RECOLOR}),
    "control_strength": frozenset({catalog.CONTROL_SKETCH, catalog.CONTROL_STRUCTURE}),
    "aspect_ratio": frozenset({catalog.STYLE_GUIDE}),
    "fidelity": frozenset({catalog.STYLE_GUIDE}),
    "style_image_id": frozenset({catalog.STYLE_TRANSFER}),
    "composition_fidelity": frozenset({catalog.STYLE_TRANSFER}),
    "style_strength": frozenset({catalog.STYLE_TRANSFER}),
    "change_strength": frozenset({catalog.STYLE_TRANSFER}),
}
_MODES: dict[str, tuple[str, ...]] = {
    catalog.OUTPAINT: ("default", "precise"),
    catalog.UPSCALE: catalog.UPSCALE_MODES,
}
DEFAULT_UPSCALE_MODE = "fast"  # the one that needs no prompt, and the cheapest
# Background removal takes an image and nothing else that shapes the output.
_NOT_FOR_BACKGROUND_REMOVAL = (
    "prompt",
    "negative_prompt",
    "seed",
    "cfg_scale",
    "steps",
    "style_preset",
)

EditTask = Literal[
    "image_to_image",
    "inpaint",
    "outpaint",
    "variation",
    "remove_background",
    "upscale",
    "search_replace",
    "search_recolor",
    "erase",
    "control_sketch",
    "control_structure",
    "style_guide",
    "style_transfer",
]
# AWS's pages cap every text field of the Stability image services at 10,000 characters.
SERVICE_TEXT_MAX = 10000


class CanvasExtension(BaseModel):
    """Outpainting's simple form: grow the canvas by this many pixels on each side."""

    model_config = ConfigDict(extra="forbid", strict=True)

    left: int = Field(default=0, ge=0, le=MAX_EXTEND_PIXELS)
    top: int = Field(default=0, ge=0, le=MAX_EXTEND_PIXELS)
    right: int = Field(default=0, ge=0, le=MAX_EXTEND_PIXELS)
    bottom: int = Field(default=0, ge=0, le=MAX_EXTEND_PIXELS)


class EditRequest(JobOptions):
    """The body of POST /v1/images/edits."""

    task: EditTask
    prompt: str | None = None
    image_id: ImageId | None = None
    input_image_base64: str | None = None
    image_ids: list[ImageId] = Field(default_factory=list, max_length=5)
    input_images_base64: list[str] = Field(default_factory=list, max_length=5)
    mask_image_id: ImageId | None = None
    mask_image_base64: str | None = None
    mask_prompt: str | None = Field(default=None, min_length=1, max_length=1024)
    extend: CanvasExtension | None = None
    mode: Literal["default", "precise", "fast", "conservative", "creative"] | None = None
    search_prompt: str | None = Field(default=None, min_length=1, max_length=SERVICE_TEXT_MAX)
    select_prompt: str | None = Field(default=None, min_length=1, max_length=SERVICE_TEXT_MAX)
    creativity: float | None = None
    control_strength: float | None = Field(default=None, ge=0.0, le=1.0)
    # style_guide: image_id is the style to follow, the output's shape one of Stability's
    # aspect ratios (the page's default 1:1).
    aspect_ratio: (
        Literal["16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"] | None
    ) = None
    fidelity: float | None = Field(default=None, ge=0.0, le=1.0)
    # style_transfer: image_id is the content, style_image_id the style to give it.
    style_image_id: ImageId | None = None
    composition_fidelity: float | None = Field(default=None, ge=0.0, le=1.0)
    style_strength: float | None = Field(default=None, ge=0.0, le=1.0)
    change_strength: float | None = Field(default=None, ge=0.1, le=1.0)
    image_strength: float | None = Field(
        default=None, ge=0.0, le=1.0, validation_alias=AliasChoices("image_strength", "strength")
    )
    similarity_strength: float | None = Field(default=None, ge=0.2, le=1.0)

    @field_validator(
        "image_strength",
        "similarity_strength",
        "creativity",
        "control_strength",
        "fidelity",
        "composition_fidelity",
        "style_strength",
        "change_strength",
        mode="before",
    )
    @classmethod
    def _strength_number(cls, value: Any) -> Any:
        return json_number(value)

    def given(self, field: str) -> bool:
        value = getattr(self, field)
        return value is not None and value != []

    def source_count(self) -> int:
        singles = sum(1 for f in ("image_id", "input_image_base64") if self.given(f))
        return singles + len(self.image_ids) + len(self.input_images_base64)

    def mask_sources(self) -> list[str]:
        return [
            f
            for f in ("mask_image_id", "mask_image_base64", "mask_prompt", "extend")
            if self.given(f)
        ]


def parse_edit_request(body: Any, *, strict: bool = True) -> EditRequest:
    """Validate the body (JSON, or form fields with strict=False) into an EditRequest."""
    if not isinstance(body, dict):
        raise ServiceError(errors.INVALID_PARAMETERS, "the request body must be a JSON object")
    check_prompt_text(body.get("prompt"), required=False)
    return validate_body(EditRequest, body, strict=strict)


def _invalid(message: str, **details: Any) -> ServiceError:
    return ServiceError(errors.INVALID_PARAMETERS, message, details)


def choose_model(
    request: EditRequest, default_model: str, usable: Callable[[str], bool] = lambda _: True
) -> tuple[catalog.ModelSpec, str, str | None]:
    """The model asked for, or the default when it can do the task, else the first that can
    (the first `usable` one: a request that names no model is not sent to a retired one)."""
    requested = request.model
    if requested is None and request.task == catalog.UPSCALE:
        requested = catalog.upscale_model(request.mode or DEFAULT_UPSCALE_MODE)
    if requested is None:
        default_spec, _ = catalog.resolve(default_model)
        capable = catalog.models_for(request.task)
        capable = [m for m in capable if usable(m)] or capable
        requested = (
            default_model if default_spec and request.task in default_spec.tasks else capable[0]
        )
    spec, note = resolve_model(requested, request.task)
    return spec, requested, note


def check_request(request: EditRequest, spec: catalog.ModelSpec) -> None:
    """Every rule that needs no pixels: checked before any image is read."""
    task = request.task
    for field, tasks in _TASK_PARAMETERS.items():
        if request.given(field) and task not in tasks:
            raise _invalid(
                f"{field} does not apply to {task} (it is for {', '.join(sorted(tasks))})",
                parameter=field,
            )
    _check_sources(request, spec)
    _check_prompt_rules(request, spec)
    masks = request.mask_sources()
    if len(masks) > 1:
        raise _invalid(
            f"give one of mask_image_id, mask_image_base64, mask_prompt or extend, not {masks}",
            parameter="mask",
        )
    if "mask_prompt" in masks and not spec.mask_prompt:
        capable = [m.model_id for m in catalog.MODELS.values() if m.mask_prompt]
        raise _invalid(
            f"{spec.model_id} cannot find a region from mask_prompt; give a mask image, "
            f"or use a model that can: {', '.join(capable)}",
            parameter="mask_prompt",
            models=capable,
        )
    if request.extend is not None and not any(
        (request.extend.left, request.extend.top, request.extend.right, request.extend.bottom)
    ):
        raise _invalid("extend must add at least one pixel on some side", parameter="extend")
    if request.mode is not None and request.mode not in _MODES.get(task, ()):
        raise _invalid(
            f"mode {request.mode} does not apply to {task}",
            parameter="mode",
            allowed=list(_MODES.get(task, ())),
        )
    if spec.family == "stability-services":
        _check_service_request(request, spec)
    if request.mode == "precise" and spec.family not in ("titan", "nova"):
        raise _invalid(
            f"{spec.model_id} has no precise outpainting mode",
            parameter="mode",
            allowed=["default"],
        )
    if request.similarity_strength is not None and not spec.similarity_strength:
        raise _invalid(
            f"{spec.model_id} has no similarity_strength control", parameter="similarity_strength"
        )
    if task == catalog.REMOVE_BACKGROUND:
        for field in _NOT_FOR_BACKGROUND_REMOVAL:
            if request.given(field):
                raise _invalid(f"{field} does not apply to remove_background", parameter=field)
        if request.n != 1:
            raise _invalid("remove_background makes exactly one image (n=1)", parameter="n")
    if spec.family in ("titan", "nova") and request.style_preset is not None:
        raise _invalid(
            f"style_preset applies to text_to_image on {spec.model_id}, not to {task}",
            parameter="style_preset",
        )


def _check_service_request(request: EditRequest, spec: catalog.ModelSpec) -> None:
    """A Stability image service takes only the fields AWS's page lists for it."""
    fields = spec.body_fields
    if request.task == catalog.UPSCALE and request.mode not in (None, spec.upscale_mode):
        raise _invalid(
            f"{spec.model_id} is the {spec.upscale_mode} upscale, not {request.mode}; "
            f"leave out model, or use {catalog.upscale_model(request.mode or '')}",
            parameter="mode",
            allowed=[spec.upscale_mode],
        )
    for field in ("prompt", "negative_prompt", "seed"):
        if request.given(field) and field not in fields:
            raise _invalid(f"{spec.model_id} takes no {field}", parameter=field)
    if "seed" not in fields and request.n != 1:
        raise _invalid(
            f"{spec.model_id} makes one image from its input and has no seed (n=1)",
            parameter="n",
        )
    if request.creativity is not None:
        if spec.creativity_range is None:
            raise _invalid(f"{spec.model_id} has no creativity control", parameter="creativity")
        low, high = spec.creativity_range
        if not low <= request.creativity <= high:
            raise _invalid(
                f"creativity must be between {low} and {high} for {spec.model_id}",
                parameter="creativity",
                min=low,
                max=high,
            )
    for field in ("search_prompt", "select_prompt"):
        if field in spec.required_fields and not request.given(field):
            raise _invalid(f"{request.task} needs {field}: what to find", parameter=field)
    if "style_image" in spec.required_fields and request.style_image_id is None:
        raise _invalid(
            f"{request.task} needs style_image_id: the image whose style to apply",
            parameter="style_image_id",
        )
    resolve_controls(
        spec, request.cfg_scale, request.steps, request.quality, request.style, request.style_preset
    )


def _check_sources(request: EditRequest, spec: catalog.ModelSpec) -> None:
    count = request.source_count()
    if request.task == catalog.VARIATION:
        limit = spec.max_reference_images
        if not 1 <= count <= limit:
            raise _invalid(
                f"variation on {spec.model_id} takes 1 to {limit} reference images; got {count}",
                parameter="image_ids",
                max=limit,
            )
    elif count != 1:
        raise _invalid(
            f"{request.task} takes exactly one image (image_id or input_image_base64); got {count}",
            parameter="image_id",
        )


def _check_prompt_rules(request: EditRequest, spec: catalog.ModelSpec) -> None:
    # Titan and Nova can inpaint without a prompt (they fill the mask with background);
    # every other edit that generates content needs one.
    optional = request.task == catalog.VARIATION or (
        request.task == catalog.INPAINT and spec.family in ("titan", "nova")
    )
    if spec.family == "stability-services":
        optional = "prompt" not in spec.required_fields
    if request.task != catalog.REMOVE_BACKGROUND and request.prompt is None and not optional:
        raise ServiceError(
            errors.INVALID_PROMPT,
            f"{request.task} on {spec.model_id} needs a prompt",
            {"prompt_issues": ["missing"]},
        )
    check_prompts(spec, request.prompt or "", request.negative_prompt)


@dataclass(frozen=True)
class EditImages:
    """The request's images, decoded and checked; sources in the order given."""

    sources: list[InputImage]
    mask: InputImage | None = None
    style: InputImage | None = None  # style_transfer's style image


@dataclass(frozen=True)
class PreparedInputs:
    """PNG files exactly as the model takes them, and the size of the output."""

    width: int
    height: int
    source: bytes | None = None
    mask: bytes | None = None
    references: tuple[bytes, ...] = ()


def prepare_inputs(
    request: EditRequest, spec: catalog.ModelSpec, images: EditImages
) -> PreparedInputs:
    first = images.sources[0]
    if spec.input_rule is not None:
        return _prepare_service_inputs(request, spec, spec.input_rule, images)
    if request.task == catalog.VARIATION:
        size = target_size(spec, first.width, first.height)
        references = tuple(encode_png(fit(to_rgb(s.image), size)) for s in images.sources)
        return PreparedInputs(size[0], size[1], references=references)

    base = to_rgb(first.image)
    mask: Image.Image | None = None
    if request.extend is not None:
        e = request.extend
        base, mask = extend_canvas(base, e.left, e.top, e.right, e.bottom)
    elif images.mask is not None:
        mask = mask_from(images.mask.image)
        _check_mask_size(images.mask, first)
    elif request.task in (catalog.INPAINT, catalog.OUTPAINT) and request.mask_prompt is None:
        # OpenAI-style: with no mask, the image's own transparent pixels are the mask.
        mask = alpha_mask(first.image)
        if mask is None:
            raise _invalid(
                f"{request.task} needs a mask: mask_image_id, mask_image_base64, "
                "mask_prompt"
                + (", extend" if request.task == catalog.OUTPAINT else "")
                + ", or transparent pixels in the image",
                parameter="mask",
            )

    size = target_size(spec, base.width, base.height)
    source = encode_png(fit(base, size))
    if mask is None:
        return PreparedInputs(size[0], size[1], source=source)
    mask = fit(mask, size, mask=True)
    if mask.getbbox() is None:
        raise _invalid("the mask marks no pixels to generate (white = generate)", parameter="mask")
    if request.task == catalog.INPAINT and spec.family in ("titan", "nova"):
        mask = ImageChops.invert(mask)
    return PreparedInputs(size[0], size[1], source=source, mask=encode_png(mask))


def _check_mask_size(mask: InputImage, image: InputImage) -> None:
    if (mask.width, mask.height) != (image.width, image.height):
        raise ServiceError(
            errors.INVALID_IMAGE_SIZE,
            f"the mask is {mask.width}x{mask.height} but the image is "
            f"{image.width}x{image.height}; they must be the same size",
            {
                "field": "mask",
                "mask_size": f"{mask.width}x{mask.height}",
                "image_size": f"{image.width}x{image.height}",
            },
        )


def _prepare_service_inputs(
    request: EditRequest, spec: catalog.ModelSpec, rule: catalog.InputRule, images: EditImages
) -> PreparedInputs:
    """An image service takes the image at its own size, within the page's limits: it is
    refused rather than resized, since resizing would undo an upscale or move an erase."""
    first = images.sources[0]
    _check_service_image(spec, rule, first, "image")
    source = encode_png(to_rgb(first.image))
    factor = spec.upscale_factor or 1
    width, height = first.width * factor, first.height * factor
    if request.task == catalog.STYLE_GUIDE:
        # A new image in the input's style: its shape is the aspect ratio's, not the input's.
        width, height = catalog.STABILITY_ASPECT_RATIOS[request.aspect_ratio or "1:1"]
    if request.task == catalog.STYLE_TRANSFER and images.style is not None:
        # The page holds the style image to the same limits as the content image.
        _check_service_image(spec, rule, images.style, "style_image")
        style = encode_png(to_rgb(images.style.image))
        return PreparedInputs(width, height, source=source, references=(style,))
    if request.task != catalog.ERASE:
        return PreparedInputs(width, height, source=source)
    if images.mask is not None:
        _check_mask_size(images.mask, first)
        mask = mask_from(images.mask.image)
    else:
        # As the service does without a mask: the image's transparent pixels are erased.
        found = alpha_mask(first.image)
        if found is None:
            raise _invalid(
                "erase needs a mask: mask_image_id, mask_image_base64, or transparent pixels "
                "in the image",
                parameter="mask",
            )
        mask = found
    if mask.getbbox() is None:
        raise _invalid("the mask marks no pixels to erase (white = erase)", parameter="mask")
    return PreparedInputs(width, height, source=source, mask=encode_png(mask))


def _check_service_image(
    spec: catalog.ModelSpec, rule: catalog.InputRule, image: InputImage, field: str
) -> None:
    problem = rule.problem(image.width, image.height)
    if problem is not None:
        raise ServiceError(
            errors.INVALID_IMAGE_SIZE,
            f"{spec.model_id} cannot take a {image.width}x{image.height} {field}: {problem}",
            {
                "field": field,
                "image_size": f"{image.width}x{image.height}",
                "rule": rule.describe(),
            },
        )


@dataclass(frozen=True)
class InputKeys:
    """Where the prepared inputs were stored in the blob store."""

    source: str | None = None
    mask: str | None = None
    references: tuple[str, ...] = ()


def plan_edit(
    request: EditRequest,
    spec: catalog.ModelSpec,
    requested_model: str,
    model_note: str | None,
    prepared: PreparedInputs,
    keys: InputKeys,
) -> GenerationPlan:
    task = request.task
    negative = check_prompts(spec, request.prompt or "", request.negative_prompt)
    if task == catalog.REMOVE_BACKGROUND:
        steps, style_preset, seed = None, None, 0
    else:
        steps, style_preset = resolve_controls(
            spec,
            request.cfg_scale,
            request.steps,
            request.quality,
            request.style,
            request.style_preset,
        )
        if spec.family in ("titan", "nova"):
            style_preset = None  # their edit tasks have no style parameter
        seedless = spec.family == "stability-services" and "seed" not in spec.body_fields
        seed = 0 if seedless else choose_seed(spec, request.seed, request.n)
    image_strength = None
    if task == catalog.IMAGE_TO_IMAGE:
        image_strength = (
            request.image_strength if request.image_strength is not None else DEFAULT_IMAGE_STRENGTH
        )
    return GenerationPlan(
        model_id=spec.model_id,
        requested_model=requested_model,
        model_note=model_note,
        prompt=request.prompt or "",
        negative_prompt=negative,
        width=prepared.width,
        height=prepared.height,
        aspect_ratio=request.aspect_ratio,
        quality=request.quality,
        style=request.style,
        style_preset=style_preset,
        seed=seed,
        cfg_scale=request.cfg_scale,
        steps=steps,
        n=request.n,
        price_per_image_usd=0.0,
        task=task,
        image_strength=image_strength,
        similarity_strength=request.similarity_strength,
        outpaint_mode=(request.mode or "default") if task == catalog.OUTPAINT else None,
        mask_prompt=request.mask_prompt,
        search_prompt=request.search_prompt,
        select_prompt=request.select_prompt,
        creativity=request.creativity,
        control_strength=request.control_strength,
        fidelity=request.fidelity,
        composition_fidelity=request.composition_fidelity,
        style_strength=request.style_strength,
        change_strength=request.change_strength,
        source_key=keys.source,
        mask_key=keys.mask,
        reference_keys=keys.references,
        labels=request.labels(),
    ).priced()

"""Text-to-image requests: validation of the public request, and planning it against a model.

The request is seed 004's ImageGenerationRequest plus seed 000's generation controls. A plan
is the request resolved against one model: real size, seeds, per-call batching, price.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from imagegen import catalog, errors
from imagegen.errors import ServiceError
from imagegen.image_fields import Description, Labels, has_visible_text
from imagegen.plan import GenerationPlan, ImageLabels
from imagegen.records import DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY

MAX_PROMPT_CHARS = 4000
MAX_IMAGES = 10


class JobOptions(BaseModel):
    """Fields every image-making request shares (generations and edits)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    negative_prompt: str | None = None
    quality: Literal["standard", "hd"] = "standard"
    style: Literal["vivid", "natural"] = "vivid"
    n: int = Field(default=1, ge=1, le=MAX_IMAGES)
    model: str | None = Field(default=None, max_length=200)
    seed: int | None = Field(default=None, ge=0)
    cfg_scale: float | None = None
    steps: int | None = None
    style_preset: str | None = Field(default=None, max_length=100)
    chat_id: str | None = Field(default=None, max_length=200)
    user_tags: Labels = Field(default_factory=list)
    description: Description | None = None
    webhook_url: str | None = Field(default=None, max_length=2048)
    async_: bool = Field(default=False, alias="async")
    priority: int = Field(default=DEFAULT_PRIORITY, ge=MIN_PRIORITY, le=MAX_PRIORITY)

    @field_validator("cfg_scale", mode="before")
    @classmethod
    def _cfg_scale_number(cls, value: Any) -> Any:
        return json_number(value)

    def labels(self) -> ImageLabels:
        """What the job's images are filed under: the worker reads it from the plan."""
        return ImageLabels(self.chat_id, tuple(self.user_tags), self.description)


def json_number(value: Any) -> Any:
    """JSON has one number type: accept 7 as well as 7.0 for a float, but not true/false."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            # A ValueError becomes a validation error (IMG302); an OverflowError would be a 500.
            raise ValueError("number is too large") from None
    return value


class GenerationRequest(JobOptions):
    """The body of POST /v1/images/generations."""

    prompt: str
    # Checked in plan_generation, so a size outside the list answers IMG301, the contract's
    # code for a size, rather than a generic parameter error.
    size: str | None = Field(default=None, max_length=20)
    width: int | None = Field(default=None, ge=64, le=4096)
    height: int | None = Field(default=None, ge=64, le=4096)


M = TypeVar("M", bound=BaseModel)


def validate_body(model: type[M], body: Any, *, strict: bool = True) -> M:
    """Validate a parsed body against a request model; every problem becomes IMG302, with
    `details.parameter` the path of the first problem's value (as "requests[1]" or
    "extend.left", the notation of app.json_body's checks).

    strict=False is for form fields, which arrive as strings ("3", "true").
    """
    if not isinstance(body, dict):
        raise ServiceError(errors.INVALID_PARAMETERS, "the request body must be a JSON object")
    try:
        return model.model_validate(body, strict=strict)
    except ValidationError as exc:
        issues = [
            {"field": ".".join(str(p) for p in e["loc"]), "issue": e["msg"]} for e in exc.errors()
        ]
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            "invalid parameters: " + "; ".join(f"{i['field']}: {i['issue']}" for i in issues),
            {"parameter": _json_path(exc.errors()[0]["loc"]), "invalid_parameters": issues},
        ) from None


def _json_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else part
    return path


def check_prompt_text(prompt: Any, *, required: bool = True) -> None:
    """IMG001/IMG002 for the prompt, before any other validation."""
    if prompt is None and not required:
        return
    if not isinstance(prompt, str) or not has_visible_text(prompt):
        raise ServiceError(
            errors.INVALID_PROMPT,
            "prompt is required and must be a string with visible characters"
            if required
            else "prompt, when given, must be a string with visible characters",
            {"prompt_issues": ["missing or empty"]},
        )
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ServiceError(
            errors.PROMPT_TOO_LONG,
            f"prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}",
            {"limit": MAX_PROMPT_CHARS, "length": len(prompt)},
        )


def parse_request(body: Any) -> GenerationRequest:
    """Validate a JSON body, turning every problem into a public error code."""
    if not isinstance(body, dict):
        raise ServiceError(errors.INVALID_PARAMETERS, "the request body must be a JSON object")
    check_prompt_text(body.get("prompt"))
    return validate_body(GenerationRequest, body)


def _invalid(message: str, **details: Any) -> ServiceError:
    return ServiceError(errors.INVALID_PARAMETERS, message, details)


def resolve_model(requested: str, task: str) -> tuple[catalog.ModelSpec, str | None]:
    """The model for a request, or IMG302 naming the models that can do the task."""
    spec, note = catalog.resolve(requested)
    if spec is None:
        raise _invalid(
            f"unknown model {requested!r}",
            allowed_models=sorted([*catalog.MODELS, *catalog.ALIASES]),
        )
    if task not in spec.tasks:
        capable = catalog.models_for(task)
        raise _invalid(
            f"{spec.model_id} cannot do {task}; models that can: {', '.join(capable)}",
            parameter="model",
            task=task,
            models=capable,
        )
    return spec, note


def plan_generation(request: GenerationRequest, default_model: str) -> GenerationPlan:
    """Resolve a valid request against its model, or say precisely what the model can't do."""
    requested = request.model or default_model
    spec, note = resolve_model(requested, catalog.TEXT_TO_IMAGE)

    negative = check_prompts(spec, request.prompt, request.negative_prompt)
    width, height = _size(request, spec)
    aspect_ratio = spec.aspect_ratio_for(width, height) if spec.family == "stability-v2" else None
    steps, style_preset = resolve_controls(
        spec, request.cfg_scale, request.steps, request.quality, request.style, request.style_preset
    )
    seed = choose_seed(spec, request.seed, request.n)

    return GenerationPlan(
        model_id=spec.model_id,
        requested_model=requested,
        model_note=note,
        prompt=request.prompt,
        negative_prompt=negative,
        width=width,
        height=height,
        aspect_ratio=aspect_ratio,
        quality=request.quality,
        style=request.style,
        style_preset=style_preset,
        seed=seed,
        cfg_scale=request.cfg_scale,
        steps=steps,
        n=request.n,
        price_per_image_usd=0.0,
        labels=request.labels(),
    ).priced()


def check_prompts(spec: catalog.ModelSpec, prompt: str, negative: str | None) -> str | None:
    """Check both prompts against the model's limits; returns the negative prompt to send."""
    if len(prompt) > spec.max_prompt_chars:
        raise ServiceError(
            errors.PROMPT_TOO_LONG,
            f"prompt is {len(prompt)} characters; "
            f"{spec.model_id} accepts at most {spec.max_prompt_chars}",
            {"limit": spec.max_prompt_chars, "length": len(prompt), "model": spec.model_id},
        )
    negative = negative or None  # "" means none: never sent to the model
    if negative is not None and len(negative) > spec.max_negative_prompt_chars:
        raise ServiceError(
            errors.PROMPT_TOO_LONG,
            f"negative_prompt is {len(negative)} characters; "
            f"{spec.model_id} accepts at most {spec.max_negative_prompt_chars}",
            {
                "limit": spec.max_negative_prompt_chars,
                "length": len(negative),
                "model": spec.model_id,
                "field": "negative_prompt",
            },
        )
    return negative


def resolve_controls(
    spec: catalog.ModelSpec,
    cfg_scale: float | None,
    steps: int | None,
    quality: str,
    style: str,
    style_preset: str | None,
) -> tuple[int | None, str | None]:
    """Check the generation controls against the model; returns (steps, style_preset) to use."""
    if cfg_scale is not None:
        if spec.cfg_scale_range is None:
            raise _invalid(f"{spec.model_id} has no cfg_scale control", parameter="cfg_scale")
        low, high = spec.cfg_scale_range
        if not low <= cfg_scale <= high:
            raise _invalid(
                f"cfg_scale must be between {low} and {high} for {spec.model_id}",
                parameter="cfg_scale",
                min=low,
                max=high,
            )
    if steps is not None:
        if spec.steps_range is None:
            raise _invalid(f"{spec.model_id} has no steps control", parameter="steps")
        low_steps, high_steps = spec.steps_range
        if not low_steps <= steps <= high_steps:
            raise _invalid(
                f"steps must be between {low_steps} and {high_steps} for {spec.model_id}",
                parameter="steps",
                min=low_steps,
                max=high_steps,
            )
    elif spec.steps_range is not None:
        steps = 50 if quality == "hd" else 30

    if style_preset is not None:
        if style_preset not in spec.style_presets:
            raise _invalid(
                f"style_preset {style_preset!r} is not available on {spec.model_id}",
                parameter="style_preset",
                allowed=list(spec.style_presets),
            )
    elif style == "natural":
        style_preset = spec.natural_style_preset
    return steps, style_preset


def choose_seed(spec: catalog.ModelSpec, seed: int | None, n: int) -> int:
    """The request's seed, checked so seed+n-1 stays in range, or a random one.

    A chosen seed is never 0: Stability models read 0 as "pick one yourself".
    """
    chosen = seed if seed is not None else 1 + secrets.randbelow(spec.seed_max - 10)
    if chosen + n - 1 > spec.seed_max:
        raise _invalid(
            f"seed must be at most {spec.seed_max - n + 1} for n={n} on "
            f"{spec.model_id} (images use seed, seed+1, ...)",
            parameter="seed",
            max=spec.seed_max - n + 1,
        )
    return chosen


def _size(request: GenerationRequest, spec: catalog.ModelSpec) -> tuple[int, int]:
    if (request.width is None) != (request.height is None):
        raise _invalid("width and height must be given together", parameter="width/height")
    if request.width is not None and request.height is not None:
        if request.size is not None:
            raise _invalid("give either size or width/height, not both", parameter="size")
        if not spec.allows_size(request.width, request.height):
            details: dict[str, Any] = {
                "model": spec.model_id,
                "allowed_sizes": spec.allowed_sizes(),
            }
            if spec.size_rule is not None:
                details["size_rule"] = spec.size_rule.describe()
            raise ServiceError(
                errors.INVALID_IMAGE_SIZE,
                f"{request.width}x{request.height} is not a size {spec.model_id} supports",
                details,
            )
        return request.width, request.height
    size = "1024x1024" if request.size is None else request.size
    if size not in catalog.SEED_SIZES:
        raise ServiceError(
            errors.INVALID_IMAGE_SIZE,
            f"size {size!r} is not one of {', '.join(catalog.SEED_SIZES)} "
            "(for another size the model supports, give width and height)",
            {"parameter": "size", "allowed": list(catalog.SEED_SIZES)},
        )
    # The seed's sizes map to the closest size the model really makes.
    return spec.size_for(*catalog.SEED_SIZES[size])

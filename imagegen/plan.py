"""The plan of a job: its request resolved against one model, which the worker executes.

A plan says everything a run needs (model, real size, seeds, per-call batching, price, the
keys of an edit's prepared inputs, what its images are filed under) so the worker never
reads the request as sent. It is stored with the job as its dict (to_dict / from_dict) at
the repository boundary only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from imagegen import catalog

# One credit is one US cent of model cost.
CREDITS_PER_USD = 100


@dataclass(frozen=True)
class ImageLabels:
    """What the job's images are filed under in the library, as the request gave it."""

    chat_id: str | None = None
    user_tags: tuple[str, ...] = ()
    description: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageLabels:
        return cls(
            chat_id=data.get("chat_id"),
            user_tags=tuple(data.get("user_tags") or ()),
            description=data.get("description"),
        )


@dataclass(frozen=True)
class ModelCall:
    """One InvokeModel call: its seed and how many images it returns."""

    seed: int
    count: int


@dataclass(frozen=True)
class GenerationPlan:
    model_id: str
    requested_model: str
    model_note: str | None
    prompt: str
    negative_prompt: str | None
    width: int
    height: int
    aspect_ratio: str | None
    quality: str
    style: str
    style_preset: str | None
    seed: int
    cfg_scale: float | None
    steps: int | None
    n: int
    price_per_image_usd: float
    # Editing tasks (imagegen.editing): the prepared input images are blobs, referenced by
    # key, so no image bytes travel through the queue.
    task: str = catalog.TEXT_TO_IMAGE
    image_strength: float | None = None
    similarity_strength: float | None = None
    outpaint_mode: str | None = None
    mask_prompt: str | None = None
    # Stability's image services: what to find (search_replace's search_prompt,
    # search_recolor's select_prompt) and how much an upscale may reimagine.
    search_prompt: str | None = None
    select_prompt: str | None = None
    creativity: float | None = None
    control_strength: float | None = None  # control_sketch/structure: the input's influence
    fidelity: float | None = None  # style_guide: how close to the input image's style
    # style_transfer: how much of the content's composition stays, how strongly the style
    # image (the first reference) applies, how much the content may change.
    composition_fidelity: float | None = None
    style_strength: float | None = None
    change_strength: float | None = None
    source_key: str | None = None
    mask_key: str | None = None
    reference_keys: tuple[str, ...] = ()
    labels: ImageLabels = field(default_factory=ImageLabels)

    @property
    def spec(self) -> catalog.ModelSpec:
        return catalog.MODELS[self.model_id]

    @property
    def premium(self) -> bool:
        if self.spec.family == "stability-sdxl":
            return (self.steps or 0) > 50
        return self.quality == "hd"

    def calls(self) -> list[ModelCall]:
        """Split n images into calls; seeds go seed, seed+1, ... across the images."""
        per_call = self.spec.max_images_per_call
        calls = []
        offset = 0
        while offset < self.n:
            count = min(per_call, self.n - offset)
            calls.append(ModelCall(self.seed + offset, count))
            offset += count
        return calls

    def cost(self) -> dict[str, float]:
        price = round(self.price_per_image_usd * self.n, 4)
        return {"credits_used": round(price * CREDITS_PER_USD, 2), "price_usd": price}

    def priced(self) -> GenerationPlan:
        """This plan with its model's price for its output size and quality."""
        price = self.spec.price_per_image(self.width, self.height, self.premium)
        return replace(self, price_per_image_usd=price)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationPlan:
        return cls(
            **{
                **data,
                "reference_keys": tuple(data.get("reference_keys") or ()),
                "labels": ImageLabels.from_dict(data.get("labels") or {}),
            }
        )


def stored_plan(data: dict[str, Any], request: dict[str, Any]) -> GenerationPlan:
    """A job's plan as a repository reads it back. A plan stored before the labels moved
    into it takes them from the request it was made from, so a job accepted before an
    upgrade files its images as it would have."""
    plan = GenerationPlan.from_dict(data)
    if "labels" not in data:
        plan = replace(plan, labels=ImageLabels.from_dict(request))
    return plan

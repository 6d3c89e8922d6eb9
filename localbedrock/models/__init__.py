"""Model handlers, one module per model family, and the model id -> handler registry.

To emulate another model (or another task of an existing one), add a ``ModelHandler``
subclass and list it in ``HANDLERS``.
"""

from __future__ import annotations

import re

from localbedrock.models.base import BedrockError, GenerationJob, ModelHandler
from localbedrock.models.nova import NovaCanvas
from localbedrock.models.stability_sdxl import StableDiffusionXL
from localbedrock.models.stability_services import (
    ConservativeUpscale,
    ControlSketch,
    ControlStructure,
    CreativeUpscale,
    EraseObject,
    FastUpscale,
    RemoveBackground,
    SearchRecolor,
    SearchReplace,
    StyleGuide,
    StyleTransfer,
)
from localbedrock.models.stability_v2 import (
    StableDiffusion35Large,
    StableImageCore,
    StableImageUltra,
)
from localbedrock.models.titan import TitanImageV1, TitanImageV2

__all__ = ["REGISTRY", "BedrockError", "GenerationJob", "ModelHandler", "resolve"]

HANDLERS: tuple[ModelHandler, ...] = (
    StableDiffusionXL(),
    StableDiffusion35Large(),
    StableImageCore(),
    StableImageUltra(),
    TitanImageV1(),
    TitanImageV2(),
    NovaCanvas(),
    FastUpscale(),
    ConservativeUpscale(),
    CreativeUpscale(),
    RemoveBackground(),
    SearchReplace(),
    SearchRecolor(),
    EraseObject(),
    ControlSketch(),
    ControlStructure(),
    StyleGuide(),
    StyleTransfer(),
)
REGISTRY: dict[str, ModelHandler] = {
    model_id: handler for handler in HANDLERS for model_id in handler.model_ids
}

# Bedrock also takes foundation-model ARNs and cross-region inference profile ids
# ("us.amazon.nova-canvas-v1:0"); both name the same base model.
_ARN = re.compile(r"^arn:aws[\w-]*:bedrock:[\w-]*:\d*:(?:foundation-model|inference-profile)/")
_PROFILE_PREFIX = re.compile(r"^(?:us|us-gov|eu|apac|jp|au|ca|global)\.")


def resolve(model_id: str) -> tuple[str, ModelHandler]:
    """Map a model id, ARN or inference profile id to (base model id, handler)."""
    base = _PROFILE_PREFIX.sub("", _ARN.sub("", model_id), count=1)
    handler = REGISTRY.get(base)
    if handler is None:
        raise BedrockError("ValidationException", "The provided model identifier is invalid.")
    return base, handler

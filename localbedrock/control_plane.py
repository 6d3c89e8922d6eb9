"""Bedrock's control plane on the foundation models localbedrock serves: ListFoundationModels
(``GET /foundation-models``) and GetFoundationModel (``GET /foundation-models/{id}``).

Paths, query names, enums, patterns and the response shape are botocore's bedrock service
model (2023-04-20). Each model reports ``modelLifecycle.status`` ACTIVE unless
``LOCALBEDROCK_LIFECYCLE`` says otherwise, so a test can make a model LEGACY (with its
dates) where a client reads it: from the control plane. The query is checked as strictly as
the service model allows: an unknown parameter, a repeated one, a value outside its enum or
pattern answers ValidationException.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from localbedrock.models import REGISTRY, BedrockError

LIFECYCLE_STATUSES = ("ACTIVE", "LEGACY")
# FoundationModelLifecycle's timestamps (iso8601), in the service model's order.
LIFECYCLE_TIMES = ("startOfLifeTime", "legacyTime", "publicExtendedAccessTime", "endOfLifeTime")

_ENUMS = {
    "byOutputModality": ("TEXT", "IMAGE", "EMBEDDING"),
    "byInferenceType": ("ON_DEMAND", "PROVISIONED"),
    "byCustomizationType": ("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION"),
}
_PATTERNS = {
    "byProvider": "[A-Za-z0-9- ]{1,63}",
    "projectIdentifier": (
        "([a-zA-Z0-9_-]+|arn:aws(-[^:]+)?:bedrock:[0-9a-z-]{1,20}:[0-9]{12}:project/[a-zA-Z0-9_-]+)"
    ),
}
_LIST_PARAMETERS = ("byProvider", "byCustomizationType", "byOutputModality", "byInferenceType")
# GetFoundationModelIdentifier: a foundation-model ARN or a model id.
_MODEL_IDENTIFIER_PATTERN = (
    "(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}::foundation-model/[a-z0-9-]{1,63}[.]{1}"
    "([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2})|([a-z0-9-]{1,63}"
    "[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})"
)
# The summary member each list filter is looked for in.
_FILTERED_MEMBERS = {
    "byOutputModality": "outputModalities",
    "byInferenceType": "inferenceTypesSupported",
    "byCustomizationType": "customizationsSupported",
}
_PROVIDERS = {"amazon": "Amazon", "stability": "Stability AI"}


@dataclass(frozen=True)
class Description:
    """What the control plane says of a model besides its lifecycle. localbedrock's
    reading of the console, not copied from an AWS answer: no client here depends on it."""

    name: str
    inputs: tuple[str, ...] = ("TEXT", "IMAGE")
    inference_types: tuple[str, ...] = ("ON_DEMAND",)
    customizations: tuple[str, ...] = ()


# The ":0" Titan v1 and SDXL ids are the provisioned-throughput versions Bedrock lists
# beside the on-demand ones.
DESCRIPTIONS: dict[str, Description] = {
    "stability.stable-diffusion-xl-v1": Description("SDXL 1.0"),
    "stability.stable-diffusion-xl-v1:0": Description("SDXL 1.0", inference_types=("PROVISIONED",)),
    "stability.sd3-5-large-v1:0": Description("Stable Diffusion 3.5 Large"),
    "stability.stable-image-core-v1:1": Description("Stable Image Core 1.1", ("TEXT",)),
    "stability.stable-image-ultra-v1:1": Description("Stable Image Ultra 1.1", ("TEXT",)),
    "amazon.titan-image-generator-v1": Description("Titan Image Generator G1"),
    "amazon.titan-image-generator-v1:0": Description(
        "Titan Image Generator G1",
        inference_types=("PROVISIONED",),
        customizations=("FINE_TUNING",),
    ),
    "amazon.titan-image-generator-v2:0": Description(
        "Titan Image Generator G1 v2",
        inference_types=("ON_DEMAND", "PROVISIONED"),
        customizations=("FINE_TUNING",),
    ),
    "amazon.nova-canvas-v1:0": Description("Nova Canvas"),
    "stability.stable-fast-upscale-v1:0": Description("Stable Fast Upscale", ("IMAGE",)),
    "stability.stable-conservative-upscale-v1:0": Description("Stable Conservative Upscale"),
    "stability.stable-creative-upscale-v1:0": Description("Stable Creative Upscale"),
    "stability.stable-image-remove-background-v1:0": Description(
        "Stable Image Remove Background", ("IMAGE",)
    ),
    "stability.stable-image-search-replace-v1:0": Description("Stable Image Search and Replace"),
    "stability.stable-image-search-recolor-v1:0": Description("Stable Image Search and Recolor"),
    "stability.stable-image-erase-object-v1:0": Description(
        "Stable Image Erase Object", ("IMAGE",)
    ),
    "stability.stable-image-control-sketch-v1:0": Description("Stable Image Control Sketch"),
    "stability.stable-image-control-structure-v1:0": Description("Stable Image Control Structure"),
}


def parse_lifecycles(raw: str) -> dict[str, dict[str, str]]:
    """LOCALBEDROCK_LIFECYCLE: ``id=STATUS,...``, or a JSON object of id to a status or to a
    modelLifecycle object (``status`` and any of LIFECYCLE_TIMES, ISO 8601 dates or times;
    a time without a zone is UTC). The modelLifecycle of each named model, times written as
    botocore reads them back. ValueError names what is wrong."""
    raw = raw.strip()
    if not raw:
        return {}
    entries: dict[str, Any]
    if raw.startswith("{"):
        try:
            entries = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"LOCALBEDROCK_LIFECYCLE is not valid JSON: {exc}") from exc
    else:
        entries = {}
        for item in raw.split(","):
            model_id, sep, status = item.partition("=")
            if not sep:
                raise ValueError(f"LOCALBEDROCK_LIFECYCLE: {item.strip()!r} is not model_id=STATUS")
            entries[model_id.strip()] = status.strip()
    return {model_id: _lifecycle(model_id, entry) for model_id, entry in entries.items()}


def _lifecycle(model_id: str, entry: Any) -> dict[str, str]:
    where = f"LOCALBEDROCK_LIFECYCLE: {model_id}"
    if model_id not in REGISTRY:
        raise ValueError(f"LOCALBEDROCK_LIFECYCLE: {model_id!r} is not a model localbedrock serves")
    fields = entry if isinstance(entry, dict) else {"status": entry}
    unknown = set(fields) - {"status", *LIFECYCLE_TIMES}
    if unknown:
        raise ValueError(f"{where}: unknown fields {', '.join(sorted(unknown))}")
    if fields.get("status") not in LIFECYCLE_STATUSES:
        raise ValueError(f"{where}: status must be one of {', '.join(LIFECYCLE_STATUSES)}")
    lifecycle = {"status": str(fields["status"])}
    for name in LIFECYCLE_TIMES:
        if name in fields:
            try:
                moment = datetime.fromisoformat(str(fields[name]))
            except ValueError as exc:
                raise ValueError(f"{where}: {name}: {exc}") from exc
            utc = moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)
            lifecycle[name] = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    return lifecycle


def _check_query(operation: str, query: Mapping[str, list[str]], allowed: tuple[str, ...]) -> None:
    """ValidationException listing every constraint the query breaks, as AWS words them."""
    problems: list[str] = []
    for name, values in query.items():
        if name not in allowed:
            problems.append(f"'{name}' is not a parameter of {operation}")
            continue
        if len(values) > 1:
            problems.append(
                f"Value at '{name}' failed to satisfy constraint: Member must be given once"
            )
            continue
        value = values[0]
        if name in _ENUMS and value not in _ENUMS[name]:
            problems.append(
                f"Value '{value}' at '{name}' failed to satisfy constraint: Member must "
                f"satisfy enum value set: [{', '.join(_ENUMS[name])}]"
            )
        elif name in _PATTERNS and not re.fullmatch(_PATTERNS[name], value):
            problems.append(
                f"Value '{value}' at '{name}' failed to satisfy constraint: Member must "
                f"satisfy regular expression pattern: {_PATTERNS[name]}"
            )
    if problems:
        count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected"
        raise BedrockError("ValidationException", f"{count}: {'; '.join(problems)}")
    project = query.get("projectIdentifier", ["default"])[0]
    if project != "default":
        # localbedrock has no projects; AWS answers a project that does not exist so.
        raise BedrockError("ValidationException", f"The project {project} does not exist.")


def _admits(summary: Mapping[str, Any], wanted: Mapping[str, str]) -> bool:
    """Whether a summary passes every filter given; a provider by its name or id prefix, in
    any case."""
    provider = wanted.get("byProvider")
    if provider is not None and provider.lower() not in (
        summary["providerName"].lower(),
        summary["modelId"].split(".", 1)[0],
    ):
        return False
    return all(
        wanted[name] in summary[member]
        for name, member in _FILTERED_MEMBERS.items()
        if name in wanted
    )


class ControlPlane:
    """The foundation-model catalogue: every model localbedrock serves, with its lifecycle."""

    def __init__(self, lifecycles: Mapping[str, Mapping[str, str]]) -> None:
        self._lifecycles = dict(lifecycles)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ControlPlane:
        return cls(parse_lifecycles(env.get("LOCALBEDROCK_LIFECYCLE", "")))

    def summary(self, model_id: str, region: str) -> dict[str, Any]:
        """FoundationModelSummary (and FoundationModelDetails, the same members)."""
        described = DESCRIPTIONS.get(model_id, Description(model_id))
        provider = model_id.split(".", 1)[0]
        return {
            "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model_id}",
            "modelId": model_id,
            "modelName": described.name,
            "providerName": _PROVIDERS.get(provider, provider),
            "inputModalities": list(described.inputs),
            "outputModalities": ["IMAGE"],
            "responseStreamingSupported": False,
            "customizationsSupported": list(described.customizations),
            "inferenceTypesSupported": list(described.inference_types),
            "modelLifecycle": dict(self._lifecycles.get(model_id, {"status": "ACTIVE"})),
        }

    def list_models(self, query: Mapping[str, list[str]], region: str) -> dict[str, Any]:
        """ListFoundationModels: the summaries every given filter admits."""
        _check_query("ListFoundationModels", query, (*_LIST_PARAMETERS, "projectIdentifier"))
        wanted = {name: query[name][0] for name in _LIST_PARAMETERS if name in query}
        summaries = [self.summary(model_id, region) for model_id in REGISTRY]
        return {"modelSummaries": [each for each in summaries if _admits(each, wanted)]}

    def get_model(
        self, identifier: str, query: Mapping[str, list[str]], region: str
    ) -> dict[str, Any]:
        """GetFoundationModel by model id or foundation-model ARN."""
        _check_query("GetFoundationModel", query, ("projectIdentifier",))
        if not re.fullmatch(_MODEL_IDENTIFIER_PATTERN, identifier):
            raise BedrockError(
                "ValidationException",
                f"1 validation error detected: Value '{identifier}' at 'modelIdentifier' "
                f"failed to satisfy constraint: Member must satisfy regular expression pattern: "
                f"{_MODEL_IDENTIFIER_PATTERN}",
            )
        model_id = identifier.rpartition("foundation-model/")[2]
        if model_id not in REGISTRY:
            raise BedrockError("ResourceNotFoundException", f"Model {model_id} was not found.")
        return {"modelDetails": self.summary(model_id, region)}

"""Where each model is called: its AWS region, and the id InvokeModel gets there.

A model is called in AWS_REGION when it is offered there (or the catalogue does not say
where it is), otherwise in its home region; IMAGEGEN_MODEL_REGIONS overrides either. A
model with a cross-region inference profile configured (IMAGEGEN_INFERENCE_PROFILES) is
invoked by the profile's id, "<geo>.<model_id>", from a region of the profile's
geography (AWS_REGION when it is one): Bedrock then routes the call to one of the profile's
destination regions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imagegen import catalog

# Each geography's profile prefix, and how the names of the regions it is invoked from begin.
PROFILE_GEOGRAPHIES: dict[str, str] = {"us": "us-", "eu": "eu-", "apac": "ap-"}
_REGION = re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-\d{1,2}$")


@dataclass(frozen=True)
class Route:
    region: str
    # The modelId InvokeModel is sent: the model's own, or its inference profile's.
    invoke_id: str
    inference_profile: str | None = None  # the geography, e.g. "us"


def _pairs(text: str, what: str) -> dict[str, str]:
    """ "model-id=value,model-id=value" with known model ids; raises ValueError."""
    pairs: dict[str, str] = {}
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        model_id, sep, value = (part.strip() for part in entry.rpartition("="))
        if not sep or not model_id or not value:
            raise ValueError(f"{entry!r} is not model-id={what}")
        if model_id not in catalog.MODELS:
            raise ValueError(f"{model_id!r} is not a model of the catalogue")
        pairs[model_id] = value
    return pairs


def parse_regions(text: str) -> dict[str, str]:
    """IMAGEGEN_MODEL_REGIONS: "model-id=region,..."."""
    regions = _pairs(text, "region")
    for model_id, region in regions.items():
        if not _REGION.match(region):
            raise ValueError(f"{model_id}: {region!r} is not an AWS region name")
    return regions


def parse_profiles(text: str) -> dict[str, str]:
    """IMAGEGEN_INFERENCE_PROFILES: "model-id=us|eu|apac,..." (or the full profile id,
    "us.<model-id>"); only the geographies the catalogue records for the model."""
    profiles: dict[str, str] = {}
    for model_id, value in _pairs(text, "us|eu|apac").items():
        geo = value.split(".", 1)[0] if value.endswith("." + model_id) else value
        offered = catalog.MODELS[model_id].inference_profiles
        if geo not in PROFILE_GEOGRAPHIES or geo not in offered:
            known = ", ".join(offered) or "none"
            raise ValueError(
                f"{model_id}: {value!r} is not one of its inference profiles (known: {known})"
            )
        profiles[model_id] = geo
    return profiles


def route(
    model_id: str, aws_region: str, regions: dict[str, str], profiles: dict[str, str]
) -> Route:
    """The model's route; raises ValueError when its profile cannot be invoked from its region."""
    offered = catalog.MODELS[model_id].regions
    geo = profiles.get(model_id)
    region = regions.get(model_id)
    if region is None:
        # A profile is invoked from any region of its geography: the service's own, if it is one.
        local = aws_region.startswith(PROFILE_GEOGRAPHIES[geo]) if geo else False
        region = aws_region if local or not offered or aws_region in offered else offered[0]
    if geo is None:
        return Route(region, model_id)
    if not region.startswith(PROFILE_GEOGRAPHIES[geo]):
        raise ValueError(
            f"{model_id}: the {geo} inference profile is invoked from a {geo} region, "
            f"not {region} (set its region in IMAGEGEN_MODEL_REGIONS)"
        )
    return Route(region, f"{geo}.{model_id}", geo)

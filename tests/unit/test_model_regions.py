"""IMAGEGEN_MODEL_REGIONS and IMAGEGEN_INFERENCE_PROFILES: each model's route, and the
settings the service refuses to start with."""

from __future__ import annotations

import pytest

from imagegen import catalog
from imagegen.config import ConfigError, Settings
from imagegen.model_regions import Route

SD35 = "stability.sd3-5-large-v1:0"
NOVA = "amazon.nova-canvas-v1:0"
TITAN_V1 = "amazon.titan-image-generator-v1"


def routes(**env: str) -> dict[str, Route]:
    return Settings.from_env(env).model_routes


def test_a_model_is_called_in_the_services_region_where_it_is_offered_else_at_home() -> None:
    found = routes(AWS_REGION="eu-west-1")
    assert found[NOVA] == Route("eu-west-1", NOVA)
    assert found[TITAN_V1] == Route("eu-west-1", TITAN_V1)
    assert found[SD35] == Route("us-west-2", SD35)
    assert found["amazon.titan-image-generator-v2:0"] == Route(
        "us-east-1", "amazon.titan-image-generator-v2:0"
    )


IMAGE_SERVICES = [m for m, spec in catalog.MODELS.items() if spec.family == "stability-services"]


@pytest.mark.parametrize("model", IMAGE_SERVICES)
def test_each_image_service_is_in_its_us_profiles_regions(model: str) -> None:
    # AWS's inference-profile page: source and destination regions of every us. profile.
    spec = catalog.MODELS[model]
    assert spec.regions == ("us-east-1", "us-east-2", "us-west-2")
    assert spec.inference_profiles == ("us",)


@pytest.mark.parametrize("model", IMAGE_SERVICES)
def test_an_image_service_is_called_as_aws_examples_call_it(model: str) -> None:
    # The services page's examples: region us-east-1, model id "us.<model id>".
    found = routes(AWS_REGION="us-east-1", IMAGEGEN_INFERENCE_PROFILES=f"{model}=us")
    assert found[model] == Route("us-east-1", f"us.{model}", "us")
    # Without a profile, from a region that has no service: the home region, us-east-1.
    assert routes(AWS_REGION="eu-west-1")[model] == Route("us-east-1", model)
    assert routes(AWS_REGION="us-west-2")[model] == Route("us-west-2", model)


def test_every_model_of_the_catalogue_has_a_route() -> None:
    assert set(routes()) == set(catalog.MODELS)


def test_the_region_can_be_overridden_per_model() -> None:
    found = routes(AWS_REGION="us-east-1", IMAGEGEN_MODEL_REGIONS=f" {SD35}=us-east-2 , ")
    assert found[SD35] == Route("us-east-2", SD35)
    assert found[NOVA] == Route("us-east-1", NOVA)


def test_a_profile_by_geography_or_full_id() -> None:
    by_geo = routes(AWS_REGION="eu-west-1", IMAGEGEN_INFERENCE_PROFILES=f"{SD35}=us")
    by_id = routes(AWS_REGION="eu-west-1", IMAGEGEN_INFERENCE_PROFILES=f"{SD35}=us.{SD35}")
    assert by_geo[SD35] == by_id[SD35] == Route("us-west-2", f"us.{SD35}", "us")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"IMAGEGEN_MODEL_REGIONS": "no.such-model=us-east-1"}, "not a model of the catalogue"),
        ({"IMAGEGEN_MODEL_REGIONS": f"{SD35}=oregon"}, "not an AWS region name"),
        ({"IMAGEGEN_MODEL_REGIONS": f"{SD35}"}, "is not model-id=region"),
        ({"IMAGEGEN_MODEL_REGIONS": f"{SD35}="}, "is not model-id=region"),
        # An alias is not a model of its own: its target's route is the one that counts.
        ({"IMAGEGEN_MODEL_REGIONS": "stability.stable-diffusion-v1-5=us-west-2"}, "catalogue"),
        ({"IMAGEGEN_INFERENCE_PROFILES": f"{SD35}=eu"}, "not one of its inference profiles"),
        ({"IMAGEGEN_INFERENCE_PROFILES": f"{NOVA}=us"}, "(known: none)"),
        ({"IMAGEGEN_INFERENCE_PROFILES": f"{SD35}=us.{NOVA}"}, "not one of its inference"),
        ({"IMAGEGEN_INFERENCE_PROFILES": f"{SD35}=global"}, "not one of its inference"),
        (
            {
                "IMAGEGEN_INFERENCE_PROFILES": f"{SD35}=us",
                "IMAGEGEN_MODEL_REGIONS": f"{SD35}=eu-west-1",
            },
            "not eu-west-1",
        ),
    ],
)
def test_bad_settings_stop_the_start(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    name = next(iter(env)) if len(env) == 1 else "IMAGEGEN_INFERENCE_PROFILES"
    assert str(caught.value).startswith(name)
    assert message in str(caught.value)

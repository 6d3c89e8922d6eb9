"""Each model is called in its region, by its inference profile's id when it has one: the
adapter's own regional clients against localbedrock, which records what reached it."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import requests
from redis import Redis

from imagegen.config import Settings
from imagegen.generation import parse_request, plan_generation
from imagegen.plan import ModelCall
from imagegen.providers.bedrock import BedrockImageModels, CallWindow, RegionalClients
from imagegen.quota import ModelQuotas, ProviderBudget

CORE = "stability.stable-image-core-v1:1"
ULTRA = "stability.stable-image-ultra-v1:1"
NOVA = "amazon.nova-canvas-v1:0"
TITAN_V2 = "amazon.titan-image-generator-v2:0"


@pytest.fixture
def local_aws(monkeypatch: pytest.MonkeyPatch, model_endpoint: str) -> str:
    """boto3 pointed at localbedrock as `make run` points it, with credentials to sign with."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", model_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    return model_endpoint


def settings(**env: str) -> Settings:
    return Settings.from_env({"IMAGEGEN_BEDROCK_MAX_ATTEMPTS": "1", **env})


def calls_with(endpoint: str, prompt: str) -> list[tuple[str, str | None]]:
    answer = requests.get(f"{endpoint}/_local/requests", timeout=5).json()
    return [
        (call["model_id"], call["region"])
        for call in answer["requests"]
        if isinstance(call["body"], dict) and prompt in str(call["body"])
    ]


def generate(models: BedrockImageModels, model: str, prompt: str) -> None:
    plan = plan_generation(parse_request({"prompt": prompt, "model": model}), model)
    window = CallWindow(time.monotonic() + 30, threading.Event())
    assert len(models.generate(plan, ModelCall(1, 1), window)) == 1


def test_each_model_reaches_the_endpoint_from_its_region_by_its_invoke_id(
    local_aws: str, redis_url: str
) -> None:
    config = settings(
        AWS_REGION="eu-west-1",
        IMAGEGEN_INFERENCE_PROFILES=f"{CORE}=us",
        IMAGEGEN_MODEL_REGIONS=f"{TITAN_V2}=us-east-1",
    )
    budget = ProviderBudget(
        Redis.from_url(redis_url), f"test-{uuid.uuid4().hex}", ModelQuotas({}, 6000)
    )
    models = BedrockImageModels(config, budget)
    prompt = f"a harbour {uuid.uuid4().hex}"
    for model in (CORE, ULTRA, NOVA, TITAN_V2):
        generate(models, model, prompt)

    assert calls_with(local_aws, prompt) == [
        # Core is not offered in eu-west-1: its home region, through its US profile.
        (f"us.{CORE}", "us-west-2"),
        (ULTRA, "us-west-2"),
        # Nova Canvas is offered in the service's own region.
        (NOVA, "eu-west-1"),
        (TITAN_V2, "us-east-1"),
    ]


def test_a_profile_is_invoked_from_the_services_own_region_when_it_lies_in_its_geography(
    local_aws: str, redis_url: str
) -> None:
    config = settings(AWS_REGION="us-east-1", IMAGEGEN_INFERENCE_PROFILES=f"{CORE}=us.{CORE}")
    budget = ProviderBudget(
        Redis.from_url(redis_url), f"test-{uuid.uuid4().hex}", ModelQuotas({}, 6000)
    )
    prompt = f"a lighthouse {uuid.uuid4().hex}"
    generate(BedrockImageModels(config, budget), CORE, prompt)
    assert calls_with(local_aws, prompt) == [(f"us.{CORE}", "us-east-1")]


def test_one_client_per_region_made_at_its_first_use(local_aws: str) -> None:
    clients = RegionalClients(settings())
    west = clients("us-west-2")
    assert clients("us-west-2") is west
    assert west.meta.region_name == "us-west-2"
    assert clients("us-east-1").meta.region_name == "us-east-1"
    # Every region's client goes to the one local endpoint.
    assert west.meta.endpoint_url == local_aws

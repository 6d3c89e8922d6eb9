"""The Bedrock adapter against the local model endpoint, through a real boto3 client."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from imagegen.config import Settings
from imagegen.errors import ServiceError
from imagegen.generation import GenerationPlan, ModelCall, parse_request, plan_generation
from imagegen.providers.bedrock import BedrockImageModels
from tests.conftest import free_port


def make_models(endpoint: str, sleeps: list[float], attempts: int = 4) -> BedrockImageModels:
    settings = Settings.from_env(
        {
            "IMAGEGEN_BEDROCK_MAX_ATTEMPTS": str(attempts),
            "IMAGEGEN_BEDROCK_BACKOFF_BASE_SECONDS": "0.5",
            "IMAGEGEN_BEDROCK_BACKOFF_CAP_SECONDS": "1.5",
            "IMAGEGEN_BEDROCK_READ_TIMEOUT_SECONDS": "10",
        }
    )
    return BedrockImageModels(settings, client=_client(endpoint), sleep=sleeps.append)


def _client(endpoint: str):
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )


def plan_for(prompt: str, model: str = "amazon.titan-image-generator-v1", **body) -> GenerationPlan:
    return plan_generation(parse_request({"prompt": prompt, "model": model, **body}), model)


def test_generates_the_images_of_one_call(model_endpoint):
    plan = plan_for("a cat", n=3, seed=9)
    artifacts = make_models(model_endpoint, []).generate(plan, ModelCall(9, 3))
    assert len(artifacts) == 3
    assert all(a.data.startswith(b"\x89PNG") and a.seed == 9 for a in artifacts)


def test_throttling_is_retried_with_bounded_jittered_backoff(model_endpoint):
    sleeps: list[float] = []
    plan = plan_for("a cat trigger-flaky-3", seed=1)
    artifacts = make_models(model_endpoint, sleeps).generate(plan, ModelCall(1, 1))
    assert len(artifacts) == 1
    assert len(sleeps) == 3
    for attempt, delay in enumerate(sleeps, start=1):
        assert 0 <= delay <= min(1.5, 0.5 * 2 ** (attempt - 1))


def test_throttling_that_persists_becomes_img203(model_endpoint):
    sleeps: list[float] = []
    with pytest.raises(ServiceError) as caught:
        make_models(model_endpoint, sleeps, attempts=3).generate(
            plan_for("trigger-throttle", seed=1), ModelCall(1, 1)
        )
    assert caught.value.code == "IMG203"
    assert caught.value.details["attempts"] == 3
    assert len(sleeps) == 2


def test_content_filter_validation_exception_is_img003(model_endpoint):
    with pytest.raises(ServiceError) as caught:
        make_models(model_endpoint, []).generate(plan_for("forbidden-content"), ModelCall(1, 1))
    assert caught.value.code == "IMG003"
    assert "content filters" in caught.value.details["safety_issues"][0]


def test_other_validation_exceptions_are_img302(model_endpoint):
    # A plan that skipped our own checks: Titan does not make 1000x1000.
    plan = GenerationPlan(**{**plan_for("a cat").to_dict(), "width": 1000, "height": 1000})
    with pytest.raises(ServiceError) as caught:
        make_models(model_endpoint, []).generate(plan, ModelCall(1, 1))
    assert caught.value.code == "IMG302"
    assert "rejected" in caught.value.message


def test_an_unreachable_endpoint_is_img203_after_retries():
    sleeps: list[float] = []
    models = make_models(f"http://127.0.0.1:{free_port()}", sleeps, attempts=2)
    with pytest.raises(ServiceError) as caught:
        models.generate(plan_for("a cat"), ModelCall(1, 1))
    assert caught.value.code == "IMG203"
    assert len(sleeps) == 1

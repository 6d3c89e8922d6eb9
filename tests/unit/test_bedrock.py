"""The Bedrock adapter against the local model endpoint, through a real boto3 client."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import boto3
import pytest
from botocore.config import Config
from redis import Redis

from imagegen.config import Settings
from imagegen.errors import ServiceError
from imagegen.generation import parse_request, plan_generation
from imagegen.plan import GenerationPlan, ModelCall
from imagegen.providers.bedrock import BedrockImageModels, CallStopped, CallWindow
from imagegen.quota import ModelQuotas, ProviderBudget
from tests.conftest import free_port


@pytest.fixture
def budget(redis_url: str) -> ProviderBudget:
    """A budget of 6000 calls a minute per model, in a region of this test's own."""
    return ProviderBudget(
        Redis.from_url(redis_url), f"test-{uuid.uuid4().hex}", ModelQuotas({}, 6000)
    )


def make_models(
    endpoint: str,
    sleeps: list[float],
    budget: ProviderBudget,
    attempts: int = 4,
    sleep: Callable[[float], None] | None = None,
) -> BedrockImageModels:
    settings = Settings.from_env(
        {
            "IMAGEGEN_BEDROCK_MAX_ATTEMPTS": str(attempts),
            "IMAGEGEN_BEDROCK_BACKOFF_BASE_SECONDS": "0.5",
            "IMAGEGEN_BEDROCK_BACKOFF_CAP_SECONDS": "1.5",
            "IMAGEGEN_BEDROCK_READ_TIMEOUT_SECONDS": "10",
        }
    )

    def record(seconds: float) -> None:
        sleeps.append(seconds)
        if sleep is not None:
            sleep(seconds)

    client = _client(endpoint)
    return BedrockImageModels(settings, budget, clients=lambda region: client, sleep=record)


def window(seconds: float = 30) -> CallWindow:
    return CallWindow(time.monotonic() + seconds, threading.Event())


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


def test_generates_the_images_of_one_call(model_endpoint, budget):
    plan = plan_for("a cat", n=3, seed=9)
    artifacts = make_models(model_endpoint, [], budget).generate(plan, ModelCall(9, 3), window())
    assert len(artifacts) == 3
    assert all(a.data.startswith(b"\x89PNG") and a.seed == 9 for a in artifacts)


def test_throttling_is_retried_with_bounded_jittered_backoff(model_endpoint, budget):
    sleeps: list[float] = []
    plan = plan_for("a cat trigger-flaky-3", seed=1)
    artifacts = make_models(model_endpoint, sleeps, budget).generate(
        plan, ModelCall(1, 1), window()
    )
    assert len(artifacts) == 1
    assert len(sleeps) == 3
    for attempt, delay in enumerate(sleeps, start=1):
        assert 0 <= delay <= min(1.5, 0.5 * 2 ** (attempt - 1))


def test_throttling_slows_the_shared_budget_and_success_speeds_it_up(model_endpoint, budget):
    model = "amazon.titan-image-generator-v1"
    plan = plan_for("a cat trigger-flaky-1", seed=2)
    make_models(model_endpoint, [], budget).generate(plan, ModelCall(2, 1), window())
    # One cut of 10 %, then one success adds its increment.
    assert budget.rate(model) == pytest.approx(6000 * 0.9 + 0.05)


def test_throttling_is_not_a_failure_until_the_deadline(model_endpoint, budget):
    """Not bounded by the attempt limit (3 here): the call keeps its turn in the budget
    until the deadline, backing off, then fails as IMG203 saying so."""
    sleeps: list[float] = []
    models = make_models(model_endpoint, sleeps, budget, attempts=3, sleep=time.sleep)
    started = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        models.generate(plan_for("trigger-throttle", seed=1), ModelCall(1, 1), window(4))
    elapsed = time.monotonic() - started
    assert caught.value.code == "IMG203"
    assert "deadline" in caught.value.message
    assert caught.value.details["provider_error"] == "ThrottlingException"
    assert caught.value.details["throttled_calls"] == len(sleeps) > 3
    assert 2.5 <= elapsed <= 6


def test_a_stopped_window_ends_the_wait_without_a_call(model_endpoint, redis_url):
    # A budget of one call a minute, spent at once: the second call has to wait.
    slow = ProviderBudget(Redis.from_url(redis_url), f"test-{uuid.uuid4().hex}", ModelQuotas({}, 1))
    models = make_models(model_endpoint, [], slow)
    models.generate(plan_for("first"), ModelCall(1, 1), window())
    stopped = window(120)  # longer than the minute the second call waits for its turn
    threading.Timer(0.3, stopped.stopped.set).start()
    started = time.monotonic()
    with pytest.raises(CallStopped):
        models.generate(plan_for("second"), ModelCall(1, 1), stopped)
    assert time.monotonic() - started < 2


def test_content_filter_validation_exception_is_img003(model_endpoint, budget):
    with pytest.raises(ServiceError) as caught:
        make_models(model_endpoint, [], budget).generate(
            plan_for("forbidden-content"), ModelCall(1, 1), window()
        )
    assert caught.value.code == "IMG003"
    assert "content filters" in caught.value.details["safety_issues"][0]


def test_other_validation_exceptions_are_img302(model_endpoint, budget):
    # A plan that skipped our own checks: Titan does not make 1000x1000.
    plan = GenerationPlan(**{**plan_for("a cat").to_dict(), "width": 1000, "height": 1000})
    with pytest.raises(ServiceError) as caught:
        make_models(model_endpoint, [], budget).generate(plan, ModelCall(1, 1), window())
    assert caught.value.code == "IMG302"
    assert "rejected" in caught.value.message


def test_an_unreachable_endpoint_is_img203_after_retries(budget):
    sleeps: list[float] = []
    models = make_models(f"http://127.0.0.1:{free_port()}", sleeps, budget, attempts=2)
    with pytest.raises(ServiceError) as caught:
        models.generate(plan_for("a cat"), ModelCall(1, 1), window())
    assert caught.value.code == "IMG203"
    assert len(sleeps) == 1

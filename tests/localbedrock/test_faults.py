"""Failure injection through boto3: trigger words, flaky prompts, slow calls, quota, filters."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

SDXL = "stability.stable-diffusion-xl-v1"
SD35 = "stability.sd3-5-large-v1:0"
CORE = "stability.stable-image-core-v1:1"
ULTRA = "stability.stable-image-ultra-v1:1"
TITAN_V1 = "amazon.titan-image-generator-v1"
TITAN_V2 = "amazon.titan-image-generator-v2:0"
NOVA = "amazon.nova-canvas-v1:0"
ALL_MODELS = (SDXL, SD35, CORE, ULTRA, TITAN_V1, TITAN_V2, NOVA)

TRIGGERS = [
    ("trigger-throttle", "ThrottlingException", 429),
    ("trigger-not-ready", "ModelNotReadyException", 429),
    ("trigger-timeout", "ModelTimeoutException", 408),
    ("trigger-error", "InternalServerException", 500),
    ("trigger-unavailable", "ServiceUnavailableException", 503),
]


@pytest.mark.parametrize("model_id", ALL_MODELS)
@pytest.mark.parametrize(("word", "code", "status"), TRIGGERS)
def test_trigger_word_gives_its_error_every_time(
    client: Any, body_for: Any, model_id: str, word: str, code: str, status: int
) -> None:
    body = json.dumps(body_for(model_id, f"a castle {word} at night"))
    modeled = getattr(client.exceptions, code)
    for _ in range(2):
        with pytest.raises(modeled) as caught:
            client.invoke_model(modelId=model_id, body=body)
        assert caught.value.response["Error"]["Code"] == code
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_throttle_message_matches_bedrock(invoke_error: Any, body_for: Any) -> None:
    invoke_error(
        NOVA,
        body_for(NOVA, "trigger-throttle"),
        "ThrottlingException",
        "Too many requests, please wait before trying again.",
    )


def test_validation_runs_before_trigger_words(invoke_error: Any) -> None:
    body = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "trigger-throttle " * 70}}
    invoke_error(NOVA, body, "ValidationException", "expected maxLength: 1024")


def test_flaky_prompt_fails_n_times_per_prompt_and_seed(
    client: Any, invoke: Any, invoke_error: Any, body_for: Any
) -> None:
    prompt = "flaky harbour trigger-flaky-2"
    for _ in range(2):
        invoke_error(SD35, body_for(SD35, prompt, seed=7), "ThrottlingException")
    assert invoke(SD35, body_for(SD35, prompt, seed=7))["seeds"] == [7]
    assert invoke(SD35, body_for(SD35, prompt, seed=7))["seeds"] == [7]
    # Another seed (or prompt) is another key with its own count.
    invoke_error(SD35, body_for(SD35, prompt, seed=8), "ThrottlingException")
    invoke_error(SD35, body_for(SD35, prompt + "!", seed=7), "ThrottlingException")


def test_flaky_prompt_is_absorbed_by_botocore_retries(endpoint: Any, body_for: Any) -> None:
    retrying = endpoint.client(retries={"mode": "standard", "total_max_attempts": 2})
    body = json.dumps(body_for(TITAN_V2, "flaky meadow trigger-flaky-1", seed=3))

    response = retrying.invoke_model(modelId=TITAN_V2, body=body)

    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert len(json.loads(response["body"].read())["images"]) == 1


def test_slow_word_delays_then_answers_normally(invoke: Any, body_for: Any) -> None:
    started = time.monotonic()
    result = invoke(ULTRA, body_for(ULTRA, "a trigger-slow sunrise", seed=1))
    assert time.monotonic() - started >= 1.0  # LOCALBEDROCK_SLOW_SECONDS=1 in conftest
    assert result["finish_reasons"] == [None]


def test_slow_word_trips_a_client_read_timeout(endpoint: Any, body_for: Any) -> None:
    impatient = endpoint.client(read_timeout=0.3)
    with pytest.raises(ReadTimeoutError):
        impatient.invoke_model(modelId=CORE, body=json.dumps(body_for(CORE, "trigger-slow")))


def test_calls_are_served_in_parallel(endpoint: Any, body_for: Any) -> None:
    client = endpoint.client(max_pool_connections=16)
    body = json.dumps(body_for(SD35, "parallel trigger-slow", seed=1))
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: client.invoke_model(modelId=SD35, body=body), range(16)))
    elapsed = time.monotonic() - started
    assert all(r["ResponseMetadata"]["HTTPStatusCode"] == 200 for r in results)
    assert elapsed < 5, f"16 one-second calls took {elapsed:.1f}s: not served in parallel"


@pytest.mark.parametrize("model_id", [SDXL])
def test_sdxl_filter_answers_200_content_filtered(
    invoke: Any, decode: Any, body_for: Any, model_id: str
) -> None:
    result = invoke(model_id, body_for(model_id, "a forbidden-content scene", seed=9))
    [artifact] = result["artifacts"]
    assert artifact["finishReason"] == "CONTENT_FILTERED"
    assert artifact["seed"] == 9
    assert decode(artifact["base64"]).size == (1024, 1024)


@pytest.mark.parametrize("model_id", [SD35, CORE, ULTRA])
def test_stability_v2_filter_answers_200_with_finish_reason(
    invoke: Any, body_for: Any, model_id: str
) -> None:
    result = invoke(model_id, body_for(model_id, "a forbidden-content scene"))
    assert result == {"finish_reasons": ["Filter reason: prompt"]}


@pytest.mark.parametrize("model_id", [TITAN_V1, TITAN_V2, NOVA])
def test_amazon_filter_answers_validation_exception(
    invoke_error: Any, body_for: Any, model_id: str
) -> None:
    invoke_error(
        model_id,
        body_for(model_id, "a forbidden-content scene"),
        "ValidationException",
        "This request has been blocked by our content filters. Our filters automatically "
        "flagged this prompt because it may conflict our AUP or AWS Responsible AI Policy.",
    )


@pytest.fixture(scope="module")
def tuned(start_endpoint: Any) -> Any:
    """An endpoint with latency and renamed filter and throttle words."""
    return start_endpoint(
        {
            "LOCALBEDROCK_LATENCY_MS": "300",
            "LOCALBEDROCK_FILTER_WORD": "zebra-crossing",
            "LOCALBEDROCK_THROTTLE_WORD": "custom-throttle",
        }
    )


def test_latency_is_added_to_every_call(tuned: Any, body_for: Any) -> None:
    client = tuned.client()
    started = time.monotonic()
    client.invoke_model(modelId=NOVA, body=json.dumps(body_for(NOVA, "latency", seed=1)))
    with pytest.raises(ClientError):
        client.invoke_model(modelId="no.such-model", body="{}")
    assert time.monotonic() - started >= 0.6


def test_words_come_from_the_environment(tuned: Any, body_for: Any) -> None:
    client = tuned.client()

    def code(prompt: str) -> str | None:
        try:
            client.invoke_model(modelId=TITAN_V2, body=json.dumps(body_for(TITAN_V2, prompt)))
        except ClientError as error:
            return error.response["Error"]["Code"] + ": " + error.response["Error"]["Message"]
        return None

    assert code("custom-throttle") == "ThrottlingException: " + (
        "Too many requests, please wait before trying again."
    )
    assert "content filters" in (code("zebra-crossing") or "")
    assert code("trigger-throttle forbidden-content") is None  # defaults no longer apply
    assert code("trigger-timeout") is not None  # unchanged words keep their defaults


def test_rpm_quota_throttles_beyond_the_limit(start_endpoint: Any, body_for: Any) -> None:
    limited = start_endpoint({"LOCALBEDROCK_RPM": "3"})
    client = limited.client()
    body = json.dumps(body_for(NOVA, "quota", seed=1))
    for _ in range(3):
        client.invoke_model(modelId=NOVA, body=body)
    for model_id in (NOVA, SD35):  # the quota spans all models
        with pytest.raises(client.exceptions.ThrottlingException) as caught:
            client.invoke_model(modelId=model_id, body=body)
        assert caught.value.response["Error"]["Message"] == (
            "Too many requests, please wait before trying again."
        )
    statuses = [(r["status"], r["error_type"]) for r in limited.recorded()]
    assert statuses == [(200, None)] * 3 + [(429, "ThrottlingException")] * 2

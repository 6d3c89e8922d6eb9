"""Synchronous requests against a model slower than the API's Redis socket timeout (5 s).

A real Bedrock call takes seconds, and a queued job waits longer still. The suite's shared
stack answers in 0.3 s, which hid that every synchronous wait past 5 s answered 500: these
tests run their own stack whose model endpoint takes 7 s per call, as the issue's
`LOCALBEDROCK_LATENCY_MS=7000 make run` did.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from imagegen.services import REDIS_SOCKET_TIMEOUT_SECONDS
from tests.conftest import (
    Stack,
    make_tenant,
    run_own_stack,
)
from tests.integration.conftest import Api, openapi_for

MODEL_SECONDS = 7.0
SYNC_WAIT_SECONDS = 15


@pytest.fixture(scope="module")
def slow_stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    yield from run_own_stack(
        tmp_path_factory.mktemp("slow-model"),
        redis_url,
        12,
        {"LOCALBEDROCK_LATENCY_MS": str(int(MODEL_SECONDS * 1000))},
        {
            "IMAGEGEN_SYNC_WAIT_SECONDS": str(SYNC_WAIT_SECONDS),
            "IMAGEGEN_BEDROCK_READ_TIMEOUT_SECONDS": "30",
        },
    )


@pytest.fixture(scope="module")
def slow_api(slow_stack: Stack) -> Api:
    tenant = make_tenant(slow_stack, "tenant-slow", "sam")
    return Api(slow_stack, tenant, openapi_for(slow_stack))


def _timed_generate(api: Api, **kwargs: object) -> tuple[float, object]:
    started = time.monotonic()
    response = api.generate({"prompt": "a slow lighthouse"}, **kwargs)  # type: ignore[arg-type]
    return time.monotonic() - started, response


def test_the_model_is_slower_than_the_redis_socket_timeout() -> None:
    # The premise of every test here: without it they would not test the slice.
    assert MODEL_SECONDS > REDIS_SOCKET_TIMEOUT_SECONDS


def test_a_synchronous_request_waits_past_the_socket_timeout_and_answers_its_images(slow_api):
    elapsed, response = _timed_generate(slow_api)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed"
    assert len(body["images"]) == 1
    assert MODEL_SECONDS <= elapsed < SYNC_WAIT_SECONDS


def test_a_wait_that_runs_out_past_the_socket_timeout_answers_202_and_the_job_completes(
    slow_api,
):
    elapsed, response = _timed_generate(slow_api, headers={"Prefer": "wait=6"})

    assert response.status_code == 202, response.text
    assert response.headers["Preference-Applied"] == "wait=6"
    assert 6 <= elapsed < MODEL_SECONDS
    job = slow_api.wait_for_job(response.json()["job_id"], timeout=30)
    assert job["job"]["status"]["status"] == "completed"


def test_an_idempotent_replay_during_a_slow_job_waits_for_it_too(slow_api):
    headers = {"Idempotency-Key": "slow-" + uuid.uuid4().hex}
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_timed_generate, slow_api, headers=headers)
        time.sleep(1.0)  # the first request is recorded and waiting on the model by now
        replayed = pool.submit(_timed_generate, slow_api, headers=headers)
        (_, first_response), (replay_elapsed, replay_response) = first.result(), replayed.result()

    assert first_response.status_code == 200, first_response.text
    assert replay_response.status_code == 200, replay_response.text
    assert replay_response.headers["Idempotent-Replayed"] == "true"
    assert replay_response.json()["job_id"] == first_response.json()["job_id"]
    assert replay_elapsed > REDIS_SOCKET_TIMEOUT_SECONDS


@pytest.mark.parametrize("prefer", ["wait=-1", "wait=1.5", "wait=", "wait=²", "wait=" + "9" * 11])
def test_a_wait_preference_that_is_not_whole_seconds_is_refused_before_anything_is_queued(
    slow_api, prefer
):
    before = _job_ids(slow_api)

    response = slow_api.generate(
        {"prompt": "a refused wait"}, headers={"Prefer": prefer.encode("utf-8")}
    )

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "IMG302"
    assert error["details"]["parameter"] == "Prefer"
    assert _job_ids(slow_api) == before


def _job_ids(api: Api) -> set[str]:
    jobs = api.request("GET", "/v1/jobs", params={"limit": 100}).json()["jobs"]
    return {job["job"]["job_id"] for job in jobs}

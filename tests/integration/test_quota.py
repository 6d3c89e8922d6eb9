"""The fleet's shared model budget through the real stack: two worker containers (processes
started as the worker container is) together keep to one model's quota, and throttling
fails a job only when its deadline passes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from itertools import pairwise

import pytest
import requests

from tests.conftest import PYTHON, Process, Stack, make_tenant, run_own_stack, start_process
from tests.integration.conftest import Api, openapi_for

SDXL = "stability.stable-diffusion-xl-v1"
SDXL_QUOTA = 120  # calls a minute: one every 0.5 s
DEADLINE_SECONDS = 6


@pytest.fixture(scope="module")
def quota_stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    yield from run_own_stack(
        tmp_path_factory.mktemp("quota"),
        redis_url,
        11,
        {"LOCALBEDROCK_LATENCY_MS": "200"},
        {
            "IMAGEGEN_BEDROCK_QUOTAS": f"{SDXL}={SDXL_QUOTA}",
            "IMAGEGEN_JOB_DEADLINE_SECONDS": str(DEADLINE_SECONDS),
            "IMAGEGEN_WORKER_CONCURRENCY": "4",
        },
    )


@pytest.fixture(scope="module")
def second_worker(quota_stack: Stack) -> Iterator[Process]:
    worker = start_process(
        [PYTHON, "-m", "worker"], quota_stack.env, quota_stack.data_dir / "worker-2.log"
    )
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def quota_api(quota_stack: Stack) -> Api:
    tenant = make_tenant(quota_stack, "tenant-quota", "quinn")
    return Api(quota_stack, tenant, openapi_for(quota_stack))


def _calls(stack: Stack) -> list[dict]:
    return requests.get(f"{stack.model_endpoint}/_local/requests", timeout=5).json()["requests"]


def test_two_worker_containers_share_one_budget(quota_api, quota_stack, second_worker):
    """8 job slots and a 0.2 s model could make 10 calls in half a second; the shared budget
    spaces them 0.5 s apart whichever worker makes them, and no job fails for it."""
    requests.delete(f"{quota_stack.model_endpoint}/_local/requests", timeout=5)
    jobs = [
        quota_api.generate({"prompt": f"harbour {i}", "model": SDXL, "async": True}).json()
        for i in range(10)
    ]
    finished = [quota_api.wait_for_job(job["job_id"], timeout=60) for job in jobs]
    assert [f["job"]["status"]["status"] for f in finished] == ["completed"] * 10
    assert second_worker.popen.poll() is None, second_worker.log()
    times = sorted(datetime.fromisoformat(c["time"]) for c in _calls(quota_stack))
    assert len(times) == 10
    gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
    # 60 / 120 = 0.5 s a call; arrival at the endpoint jitters by a few milliseconds.
    assert min(gaps) >= 0.4, gaps
    assert (times[-1] - times[0]).total_seconds() >= 9 * 0.5 * 0.95


def test_throttling_fails_a_job_only_at_its_deadline(quota_api, quota_stack):
    requests.delete(f"{quota_stack.model_endpoint}/_local/requests", timeout=5)
    started = time.monotonic()
    response = quota_api.generate(
        {"prompt": "a bridge trigger-throttle", "model": "amazon.titan-image-generator-v1"}
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "IMG203"
    assert "deadline" in error["message"] and "quota" in error["message"]
    assert error["details"]["provider_error"] == "ThrottlingException"
    assert response.headers["Retry-After"]
    calls = _calls(quota_stack)
    # More calls than the attempt limit (3 in the tests): throttling is waited out, not counted.
    assert len(calls) == error["details"]["throttled_calls"] > 3
    assert {c["error_type"] for c in calls} == {"ThrottlingException"}
    assert DEADLINE_SECONDS - 1 <= elapsed <= DEADLINE_SECONDS + 5


def test_a_waiting_job_says_it_waits_for_its_models_quota(quota_api, quota_stack):
    jobs = [
        quota_api.generate({"prompt": f"lantern {i}", "model": SDXL, "async": True}).json()
        for i in range(6)
    ]
    last = jobs[-1]["job_id"]
    deadline = time.monotonic() + 10
    messages = set()
    while time.monotonic() < deadline:
        status = quota_api.job(last).json()["job"]["status"]
        messages.add(status["message"])
        if status["status"] == "completed":
            break
        time.sleep(0.05)
    assert f"waiting for {SDXL}'s quota (0 of 1 done)" in messages, messages
    for job in jobs:
        assert quota_api.wait_for_job(job["job_id"])["job"]["status"]["status"] == "completed"


def test_models_show_their_quota_and_the_rate_spent_now(quota_api):
    models = {m["model_id"]: m for m in quota_api.request("GET", "/v1/models").json()["models"]}
    assert models[SDXL]["quota"] == {
        "requests_per_minute": SDXL_QUOTA,
        "current_per_minute": pytest.approx(SDXL_QUOTA),  # used above, at the quota
    }
    nova = quota_api.request("GET", "/v1/models/amazon.nova-canvas-v1:0").json()
    # Not listed in IMAGEGEN_BEDROCK_QUOTAS: the stack's IMAGEGEN_BEDROCK_DEFAULT_RPM, unused.
    assert nova["quota"] == {"requests_per_minute": 6000, "current_per_minute": None}

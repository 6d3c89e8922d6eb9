"""A quota lower than configured is learned: the model endpoint admits 20 calls a rolling
minute while the service is told 60. The fleet spends the first minute's 20 calls in about
20 s, is throttled until the minute rolls on, cuts its rate meanwhile and finishes every job
after that; none fails. The test takes a little over the endpoint's one-minute window,
which no shorter test can show."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.conftest import Stack, make_tenant, run_own_stack
from tests.integration.conftest import Api, openapi_for

SDXL = "stability.stable-diffusion-xl-v1"
REAL_QUOTA = 20
CONFIGURED = 60
JOBS = 26


@pytest.fixture(scope="module")
def learning_stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    yield from run_own_stack(
        tmp_path_factory.mktemp("quota-learning"),
        redis_url,
        13,
        {"LOCALBEDROCK_LATENCY_MS": "200", "LOCALBEDROCK_RPM": str(REAL_QUOTA)},
        {
            "IMAGEGEN_BEDROCK_QUOTAS": f"{SDXL}={CONFIGURED}",
            "IMAGEGEN_JOB_DEADLINE_SECONDS": "600",
            "IMAGEGEN_WORKER_CONCURRENCY": "8",
            "IMAGEGEN_BEDROCK_BACKOFF_CAP_SECONDS": "2",
        },
    )


def test_a_quota_lower_than_configured_is_learned_and_no_job_fails(learning_stack):
    tenant = make_tenant(learning_stack, "tenant-learning", "lee")
    api = Api(learning_stack, tenant, openapi_for(learning_stack))
    jobs = [
        api.generate({"prompt": f"tide {i}", "model": SDXL, "async": True}).json()
        for i in range(JOBS)
    ]
    finished = [api.wait_for_job(job["job_id"], timeout=150) for job in jobs]

    assert [f["job"]["status"]["status"] for f in finished] == ["completed"] * JOBS
    calls = requests.get(f"{learning_stack.model_endpoint}/_local/requests", timeout=5).json()
    admitted = [c for c in calls["requests"] if c["status"] == 200]
    throttled = [c for c in calls["requests"] if c["error_type"] == "ThrottlingException"]
    assert len(admitted) == JOBS
    assert throttled, "the endpoint's quota was never reached: the test shows nothing"
    # Throttled calls are the fleet probing its way down, not each job hammering on its own.
    assert len(throttled) < JOBS
    quota = api.request("GET", f"/v1/models/{SDXL}").json()["quota"]
    print(
        f"\nLEARNED quota: {quota['current_per_minute']}/min (real {REAL_QUOTA}, configured "
        f"{CONFIGURED}); {len(throttled)} throttled calls for {JOBS} jobs"
    )
    assert quota["requests_per_minute"] == CONFIGURED
    # Learned: well under the configured 60, and not far under the real 20 (a cut never
    # goes below 95 % of what the endpoint admitted in the last minute).
    assert 0.9 * REAL_QUOTA <= quota["current_per_minute"] <= 0.75 * CONFIGURED, quota

"""Priority 1-10: a job waits only for queued jobs of its own priority or higher."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import wait_until

NOVA = "amazon.nova-canvas-v1:0"


def _processing(api, job_id: str) -> bool:
    return api.job(job_id).json()["job"]["status"]["status"] == "processing"


def test_a_priority_9_job_behind_50_priority_1_jobs_starts_next(api):
    # Occupy both worker slots (4 s model calls), the first to free up before the other.
    blockers = []
    for _ in range(2):
        blocker = api.generate({"prompt": "trigger-slow", "model": NOVA, "async": True}).json()
        wait_until(lambda b=blocker: _processing(api, b["job_id"]), what="a busy worker")
        blockers.append(blocker["job_id"])
    busy_since = time.monotonic()

    def submit_low(i: int) -> str:
        body = {"prompt": f"a pebble {i}", "model": NOVA, "async": True, "priority": 1}
        return api.generate(body).json()["job_id"]

    with ThreadPoolExecutor(max_workers=10) as pool:
        low = list(pool.map(submit_low, range(50)))
    urgent = api.generate(
        {"prompt": "an urgent poster", "model": NOVA, "async": True, "priority": 9}
    ).json()["job_id"]
    # Otherwise a worker was free before the urgent job existed, and this proves nothing.
    assert time.monotonic() - busy_since < 3.5, "submitting took too long for the test to hold"

    done = api.wait_for_job(urgent, timeout=30)["job"]
    assert done["status"]["status"] == "completed"
    assert done["priority"] == 9
    wait_until(lambda: _processing(api, low[0]) or api.job(low[0]).json()["job"]["started_at"])
    started_low = [
        job["started_at"]
        for job in (api.job(job_id).json()["job"] for job_id in low)
        if job["started_at"] is not None
    ]
    assert all(done["started_at"] < started for started in started_low)
    for job_id in low:
        api.request("POST", f"/v1/jobs/{job_id}/cancel")
    for job_id in blockers:
        api.wait_for_job(job_id)


def test_the_default_priority_is_5(api):
    job_id = api.generate({"prompt": "a reed", "async": True}).json()["job_id"]
    assert api.job(job_id).json()["job"]["priority"] == 5


@pytest.mark.parametrize("priority", [0, 11, "9", 2.5, True])
def test_priorities_outside_1_to_10_are_refused(api, priority):
    response = api.generate({"prompt": "a reed", "async": True, "priority": priority})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "IMG302"

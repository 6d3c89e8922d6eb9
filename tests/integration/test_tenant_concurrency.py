"""Each tenant's max_concurrent_jobs through the real stack: never more of a tenant's jobs
run at once than its limit, however many it submits; one tenant's burst does not hold back
another's jobs of the same priority; a raised limit applies without a restart; and a worker
SIGKILLed while it ran a tenant's job does not take the tenant's slot with it for good.

The stack is this module's own (its Redis database, data directory and model endpoint), so
the calls the endpoint records are this module's only, and the shared stack's worker never
takes its jobs. Each model call takes MODEL_SECONDS; a prompt with "trigger-slow" takes 4 s.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from imagegen.limits_cache import LIMITS_TTL_SECONDS
from imagegen.records import TenantLimits
from imagegen.storage.sqlite import SqliteRepository
from tests.conftest import PYTHON, Process, Stack, make_tenant, run_own_stack, start_process
from tests.integration.conftest import Api, openapi_for
from tests.integration.recovery_stack import descendants, is_running

NOVA = "amazon.nova-canvas-v1:0"
SDXL = "stability.stable-diffusion-xl-v1"
SDXL_QUOTA = 120  # calls a minute: a turn every 0.5 s, sooner than a call ends
MODEL_SECONDS = 0.7
SLOTS = 4  # worker slots: more than a capped tenant may use, so the cap is what holds it
LEASE_SECONDS = 3.0  # service_env's
FINISHED = ("completed", "failed", "cancelled")


@pytest.fixture(scope="module")
def cap_stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    yield from run_own_stack(
        tmp_path_factory.mktemp("tenant-concurrency"),
        redis_url,
        10,
        {"LOCALBEDROCK_LATENCY_MS": str(int(MODEL_SECONDS * 1000))},
        # A slow call (4 s) is answered, not timed out.
        {
            "IMAGEGEN_WORKER_CONCURRENCY": str(SLOTS),
            "IMAGEGEN_BEDROCK_READ_TIMEOUT_SECONDS": "10",
            "IMAGEGEN_BEDROCK_QUOTAS": f"{SDXL}={SDXL_QUOTA}",
        },
    )


def _tenant_api(stack: Stack, max_concurrent_jobs: int | None) -> tuple[Api, str]:
    """A new tenant's API session, and its tenant id; None: no limit."""
    tenant = make_tenant(stack, f"cap-{uuid.uuid4().hex[:10]}", "u1")
    if max_concurrent_jobs is not None:
        _set_cap(stack, tenant.tenant_id, max_concurrent_jobs)
    return Api(stack, tenant, openapi_for(stack)), tenant.tenant_id


def _set_cap(stack: Stack, tenant_id: str, cap: int) -> None:
    """As `python -m imagegen.cli set-limits --max-concurrent-jobs` does."""
    repository = SqliteRepository(stack.data_dir / "imagegen.sqlite3")
    repository.put_tenant_limits(TenantLimits(tenant_id, max_concurrent_jobs=cap))


def _submit(api: Api, prompt: str, model: str = NOVA) -> str:
    response = api.generate({"prompt": prompt, "model": model, "async": True})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def _status(api: Api, job_id: str) -> dict[str, Any]:
    return dict(api.job(job_id).json()["job"]["status"])


def _processing(api: Api) -> list[str]:
    """The tenant's jobs running now, in one read."""
    page = api.request("GET", "/v1/jobs", params={"status": "processing", "limit": 100}).json()
    return [item["job"]["job_id"] for item in page["jobs"]]


def _watch(api: Api, job_ids: list[str], timeout: float, until=None) -> tuple[int, set[str]]:
    """Poll the tenant's running jobs until every job finished (or `until()` holds); the most
    seen running at once, and the status messages of the jobs seen waiting."""
    deadline = time.monotonic() + timeout
    most, messages = 0, set()
    while time.monotonic() < deadline:
        most = max(most, len(_processing(api)))
        statuses = [_status(api, job_id) for job_id in job_ids]
        messages |= {s["message"] for s in statuses if s["status"] == "pending"}
        if until is not None and until():
            return most, messages
        if until is None and all(s["status"] in FINISHED for s in statuses):
            return most, messages
        time.sleep(0.05)
    raise TimeoutError(f"jobs still running after {timeout} s: {statuses}")


def _calls(stack: Stack, marker: str) -> list[tuple[datetime, datetime]]:
    """(start, end) of each model call whose prompt has the marker, on the endpoint's clock."""
    calls = requests.get(f"{stack.model_endpoint}/_local/requests", timeout=5).json()["requests"]
    spans = []
    for call in calls:
        body = call["body"]
        text = body["text_prompts"][0]["text"] if "text_prompts" in body else None
        text = text or body["textToImageParams"]["text"]
        if marker in text:
            end = datetime.fromisoformat(call["time"])
            spans.append((end - timedelta(milliseconds=call["latency_ms"]), end))
    return spans


def _most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = running = 0
    for _, step in events:  # at equal times an end (-1) sorts first
        running += step
        most = max(most, running)
    return most


def test_a_tenant_never_runs_more_jobs_at_once_than_its_limit(cap_stack):
    api, _ = _tenant_api(cap_stack, 2)
    marker = f"m{uuid.uuid4().hex[:8]}"
    jobs = [_submit(api, f"a kite {marker} {index}") for index in range(8)]

    most, messages = _watch(api, jobs, timeout=30)

    assert [_status(api, job_id)["status"] for job_id in jobs] == ["completed"] * 8
    assert most <= 2
    # The model calls themselves: never more than two of the tenant's at once, and two
    # often (so the limit, not the worker's four slots, is what held them).
    spans = _calls(cap_stack, marker)
    assert len(spans) == 8
    assert _most_at_once(spans) == 2
    assert "waiting: the tenant's 2 concurrent jobs are running" in messages, messages


def test_one_tenants_burst_does_not_hold_back_anothers_jobs(cap_stack):
    """Tenant A (limit 2) submits 30 jobs, then tenant B (no limit) 3 of the same priority:
    B's run in the slots A may not use, and finish long before A's backlog."""
    (bursting, _), (other, _) = _tenant_api(cap_stack, 2), _tenant_api(cap_stack, None)
    burst = [_submit(bursting, f"a wave {index}") for index in range(30)]
    mine = [_submit(other, f"a shell {index}") for index in range(3)]
    started = time.monotonic()

    for job_id in mine:
        assert other.wait_for_job(job_id, timeout=20)["job"]["status"]["status"] == "completed"
    took = time.monotonic() - started

    # 30 jobs two at a time take 15 model calls in a row; B's 3 took about two.
    assert took < 4 * MODEL_SECONDS + 3, took
    backlog = [job_id for job_id in burst if _status(bursting, job_id)["status"] == "pending"]
    assert len(backlog) >= 15, "A's backlog was done before B's jobs: this proves nothing"
    assert len(_processing(bursting)) <= 2
    # Cancelled, the jobs waiting in A's line leave it and never run.
    for job_id in backlog:
        bursting.request("POST", f"/v1/jobs/{job_id}/cancel")
    _watch(bursting, burst, timeout=15)
    assert sum(_status(bursting, j)["status"] == "completed" for j in burst) <= 30 - len(backlog)


def test_a_turn_of_the_models_quota_is_not_lost_to_a_tenant_at_its_limit(cap_stack):
    """Jobs of both tenants wait for SDXL's quota (a turn every 0.5 s, a call 0.7 s): a turn
    that comes for A's waiting job while A runs its one job goes back to the budget, and
    B's job takes it. Every job completes; A never runs two; the quota holds."""
    (limited, _), (other, _) = _tenant_api(cap_stack, 1), _tenant_api(cap_stack, None)
    marker = f"q{uuid.uuid4().hex[:8]}"
    mine = [_submit(limited, f"a gate {marker} a{index}", SDXL) for index in range(4)]
    theirs = [_submit(other, f"a gate {marker} b{index}", SDXL) for index in range(2)]

    most, _ = _watch(limited, mine, timeout=30)

    for api, job_ids in ((limited, mine), (other, theirs)):
        for job_id in job_ids:
            assert api.wait_for_job(job_id, timeout=10)["job"]["status"]["status"] == "completed"
    assert most <= 1
    spans = _calls(cap_stack, marker)
    assert len(spans) == 6  # no call refused, none made twice
    assert _most_at_once(_calls(cap_stack, f"{marker} a")) == 1  # A's calls
    # Paced by the quota (test_quota.py tests its spacing): six turns span five intervals.
    starts = sorted(start for start, _ in spans)
    assert (starts[-1] - starts[0]).total_seconds() >= 5 * 60 / SDXL_QUOTA * 0.9


def test_a_raised_limit_applies_without_a_restart(cap_stack):
    api, tenant_id = _tenant_api(cap_stack, 1)
    jobs = [_submit(api, f"a slow trigger-slow mill {index}") for index in range(4)]
    _watch(api, jobs, timeout=10, until=lambda: len(_processing(api)) == 1)
    time.sleep(0.5)
    assert len(_processing(api)) == 1
    changed = time.monotonic()

    _set_cap(cap_stack, tenant_id, 3)

    # Each worker reads a tenant's limits again once they are 5 s old.
    _watch(api, jobs, timeout=LIMITS_TTL_SECONDS + 3, until=lambda: len(_processing(api)) == 3)
    assert time.monotonic() - changed <= LIMITS_TTL_SECONDS + 3
    for job_id in jobs:
        api.request("POST", f"/v1/jobs/{job_id}/cancel")


def _kill_worker(worker: Process) -> None:
    """SIGKILL every process of the worker, as when its container is killed (the tree is
    stopped first, so the supervisor cannot start another runner meanwhile)."""
    root = worker.popen.pid
    frozen: set[int] = set()
    while tree := {root, *descendants(root)} - frozen:
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        frozen |= tree
    for pid in frozen:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.popen.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(is_running(pid) for pid in frozen) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_killed_workers_tenant_slot_frees_itself_with_the_lease(cap_stack, request):
    """The tenant (limit 1) has a job running when its worker is SIGKILLed, and one waiting.
    The running job is cancelled, so no run is left to free its slot: the slot runs out
    with the lease, and the waiting job runs on the next worker."""
    api, _ = _tenant_api(cap_stack, 1)
    running = _submit(api, "a slow trigger-slow tower")
    _watch(
        api, [running], timeout=10, until=lambda: _status(api, running)["status"] == "processing"
    )
    waiting = _submit(api, "a quick tower")
    _watch(
        api,
        [waiting],
        timeout=10,
        until=lambda: _status(api, waiting)["message"].startswith("waiting: "),
    )

    _kill_worker(cap_stack.worker)
    killed = time.monotonic()
    assert api.request("POST", f"/v1/jobs/{running}/cancel").status_code == 200
    replacement = start_process(
        [PYTHON, "-m", "worker"], cap_stack.env, cap_stack.data_dir / "worker-2.log"
    )
    request.addfinalizer(replacement.stop)

    done = api.wait_for_job(waiting, timeout=LEASE_SECONDS + 15)["job"]
    assert done["status"]["status"] == "completed", done
    # Not before the dead run's slot ran out: its last renewal was at most a third of the
    # lease before the kill.
    assert time.monotonic() - killed >= LEASE_SECONDS * 2 / 3
    assert _status(api, running)["status"] == "cancelled"
    assert replacement.popen.poll() is None, replacement.log()

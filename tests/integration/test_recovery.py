"""Crash recovery against real processes: killed containers and runners, a Redis that
restarts empty or is flushed, and SIGTERM with and without time to finish.

The stack is this module's own (recovery_stack): lease 3 s, sweep every 0.5 s, lost pending
jobs queued again after 2 s, 2 recoveries at most. A worker is started per test, as the
shutdown grace differs. The slow prompt makes each model call take 4 s (the endpoint's
LOCALBEDROCK_SLOW_SECONDS), so a job is reliably caught while it runs.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest
import requests

from imagegen.job_files import image_id, image_keys
from imagegen.jobqueue import QUEUE_NAMES, JobQueue
from imagegen.records import Job, parse_utc, utc_now
from tests.conftest import Tenant, make_tenant
from tests.integration.conftest import Api
from tests.integration.recovery_stack import (
    LEASE_SECONDS,
    MAX_RECOVERIES,
    REQUEUE_AFTER_SECONDS,
    SWEEP_INTERVAL_SECONDS,
    RecoveryStack,
    descendants,
    is_running,
    recovery_stack,
)

SDXL = "stability.stable-diffusion-xl-v1"
# Worker start, scheduling and polling: what recovery may take beyond lease + sweep + run.
MARGIN_SECONDS = 10.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, model_endpoint: str) -> Iterator[RecoveryStack]:
    running = recovery_stack(tmp_path_factory.mktemp("recovery"), model_endpoint)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def openapi(stack: RecoveryStack):
    return stack.openapi()


@pytest.fixture
def tenant(stack: RecoveryStack) -> Tenant:
    """A tenant per test, so its blob folder holds only that test's files."""
    return make_tenant(stack, f"recovery-{uuid.uuid4().hex[:10]}", "ops")


@pytest.fixture
def api(stack: RecoveryStack, tenant: Tenant, openapi) -> Iterator[Api]:
    yield Api(stack, tenant, openapi)
    stack.stop_all_workers()


# --- helpers -----------------------------------------------------------------------------


def _submit(api: Api, prompt: str, n: int) -> str:
    response = api.generate({"prompt": prompt, "model": SDXL, "n": n, "async": True})
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def _job(api: Api, job_id: str) -> dict[str, Any]:
    response = api.job(job_id)
    assert response.status_code == 200, response.text
    return response.json()["job"]


def _wait_for_status(api: Api, job_id: str, status: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = _job(api, job_id)
        if job["status"]["status"] == status:
            return job
        time.sleep(0.05)
    raise TimeoutError(f"{job_id} never became {status}: {job['status']}")


def _record(stack: RecoveryStack, job_id: str) -> Job:
    """The stored job, for what the API does not show: its run id and recoveries."""
    job = stack.repository.load_job(job_id)
    assert job is not None
    return job


def _wait_for_new_run(
    stack: RecoveryStack, api: Api, job_id: str, earlier_runs: list[str], timeout: float = 20
) -> str:
    """The job is processing under a run other than the earlier ones; that run's id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _job(api, job_id)["status"]["status"] == "processing":
            run_id = _record(stack, job_id).run_id
            if run_id is not None and run_id not in earlier_runs:
                return run_id
        time.sleep(0.05)
    raise TimeoutError(f"{job_id} was not started again")


def _tenant_files(stack: RecoveryStack, tenant: Tenant) -> set[str]:
    folder = stack.data_dir / "blobs" / tenant.tenant_id
    return {str(p.relative_to(folder.parent)) for p in folder.rglob("*") if p.is_file()}


def _job_files(job: Job) -> set[str]:
    """The keys a run of the job writes: an original and a thumbnail per image."""
    return {key for index in range(job.plan.n) for key in image_keys(job, index, "png")}


def _stored_images(stack: RecoveryStack, job_id: str) -> int:
    with closing(sqlite3.connect(stack.data_dir / "imagegen.sqlite3")) as db:
        return db.execute("SELECT COUNT(*) FROM images WHERE job_id = ?", (job_id,)).fetchone()[0]


def _model_calls(stack: RecoveryStack, prompt: str) -> int:
    calls = requests.get(f"{stack.model_endpoint}/_local/requests", timeout=5).json()["requests"]
    return sum(
        1
        for call in calls
        if any(p.get("text") == prompt for p in call["body"].get("text_prompts", []))
    )


def _assert_completed_once(api: Api, stack: RecoveryStack, job_id: str, n: int) -> None:
    """Completed with its n images, each recorded once and stored once (original and
    thumbnail at the job's deterministic keys), whatever runs came before."""
    job = _job(api, job_id)
    assert job["status"]["status"] == "completed", job["status"]
    assert job["status"]["progress"] == 100
    images = job["result"]["images"]
    assert [image["image_id"] for image in images] == [image_id(job_id, i) for i in range(n)]
    assert _stored_images(stack, job_id) == n
    for image in images:
        assert api.fetch(image["url"]).status_code == 200
        assert api.fetch(image["thumbnail_url"]).status_code == 200


def _assert_recovered_once(
    api: Api,
    stack: RecoveryStack,
    tenant: Tenant,
    job_id: str,
    first_run: str | None,
    killed_at: float,
    recovered: float,
) -> tuple[float, float]:
    """Taken back once, by a new run, not before the lease ran out and within a sweep of
    it; completed once with no file but its own. Returns (taken back after, final run)."""
    record = _record(stack, job_id)
    assert record.recoveries == 1 and record.run_id not in (None, first_run)
    assert record.queued_at is not None and record.started_at and record.completed_at
    taken_back = _at(record.queued_at) - killed_at
    run_seconds = _seconds_between(record.started_at, record.completed_at)
    # Not before the lease (renewed every lease/3) ran out; within a sweep of it.
    assert taken_back >= LEASE_SECONDS * 2 / 3 - 0.2, taken_back
    assert recovered < LEASE_SECONDS + SWEEP_INTERVAL_SECONDS + run_seconds + MARGIN_SECONDS
    _assert_completed_once(api, stack, job_id, n=3)
    assert _tenant_files(stack, tenant) == _job_files(record)
    return taken_back, run_seconds


# SDXL at 1024x1024 is 0.04 USD an image: an n=3 job is 12 credits (1200 CREDIT_UNITS).
N3_PRICE = 1200
FUNDS = 10 * N3_PRICE


def _fund(stack: RecoveryStack, tenant: Tenant) -> None:
    """Meter the tenant, so its jobs hold and settle credits as they run."""
    stack.repository.grant_credits(tenant.tenant_id, FUNDS, utc_now(), "recovery test")


def _ledger(stack: RecoveryStack, tenant: Tenant, job_id: str) -> list[tuple[str, int, int]]:
    entries = stack.repository.ledger_entries(tenant.tenant_id, 100, job_id=job_id)
    return sorted((entry.kind, entry.amount, entry.attempt or 0) for entry in entries)


def _assert_balance(stack: RecoveryStack, tenant: Tenant, balance: int) -> None:
    account = stack.repository.credit_account(tenant.tenant_id)
    assert account is not None
    assert (account.balance, account.reserved) == (balance, 0)


def _seconds_between(earlier: str, later: str) -> float:
    return (parse_utc(later) - parse_utc(earlier)).total_seconds()


def _at(timestamp: str) -> float:
    return parse_utc(timestamp).timestamp()


# --- a killed container ------------------------------------------------------------------


def test_a_killed_worker_container_loses_no_job_and_duplicates_no_image(stack, api, tenant):
    """SIGKILL of the supervisor, the runner and the maintenance process while an n=3 job
    runs: a fresh container's sweeper takes the job back once its lease runs out, and it completes
    once, within lease + sweep interval + its run time + worker start."""
    _fund(stack, tenant)
    worker = stack.start_worker()
    prompt = f"a lighthouse in a storm trigger-slow {uuid.uuid4().hex[:6]}"
    job_id = _submit(api, prompt, n=3)
    _wait_for_status(api, job_id, "processing")
    first_run = _record(stack, job_id).run_id
    assert stack.tree(worker) is not None

    killed_at, killed = time.time(), time.monotonic()
    gone = stack.kill_container(worker)
    assert len(gone) == 3  # supervisor, runner, maintenance
    # Nothing runs it now, and nothing says so yet: it stays processing until its lease ends.
    assert _job(api, job_id)["status"]["status"] == "processing"

    stack.start_worker()
    worker_started = time.monotonic() - killed
    _wait_for_status(api, job_id, "completed", timeout=40)
    recovered = time.monotonic() - killed

    taken_back, run_seconds = _assert_recovered_once(
        api, stack, tenant, job_id, first_run, killed_at, recovered
    )
    # Two runs, one hold: reserved when accepted, charged once when the second run completed.
    assert _ledger(stack, tenant, job_id) == [("charge", N3_PRICE, 0), ("reservation", N3_PRICE, 0)]
    _assert_balance(stack, tenant, FUNDS - N3_PRICE)
    print(
        f"\nRECOVERY container-kill: completed {recovered:.2f} s after the kill "
        f"(new worker listening after {worker_started:.2f} s, taken back after "
        f"{taken_back:.2f} s, final run {run_seconds:.2f} s)"
    )


def test_a_killed_runner_s_job_is_taken_back_by_its_own_container(stack, api, tenant):
    """Only the runner dies (an out-of-memory kill, say): the supervisor starts another,
    and the container's own sweeper takes the job back when the lease runs out."""
    worker = stack.start_worker()
    before = stack.tree(worker)
    prompt = f"a windmill at dusk trigger-slow {uuid.uuid4().hex[:6]}"
    job_id = _submit(api, prompt, n=3)
    _wait_for_status(api, job_id, "processing")
    first_run = _record(stack, job_id).run_id

    killed_at, killed = time.time(), time.monotonic()
    assert before is not None
    os.kill(before.runner, signal.SIGKILL)
    _wait_for_status(api, job_id, "completed", timeout=40)
    recovered = time.monotonic() - killed

    after = stack.tree(worker)
    assert after is not None
    assert (after.supervisor, after.maintenance) == (before.supervisor, before.maintenance)
    assert after.runner != before.runner
    taken_back, run_seconds = _assert_recovered_once(
        api, stack, tenant, job_id, first_run, killed_at, recovered
    )
    print(
        f"\nRECOVERY runner-kill: completed {recovered:.2f} s after the kill "
        f"(taken back after {taken_back:.2f} s, final run {run_seconds:.2f} s)"
    )


def test_a_job_that_keeps_losing_its_worker_is_dead_lettered_then_retried(stack, api, tenant):
    """Its runner is killed on each of 1 + MAX_RECOVERIES runs: the sweeper fails it (IMG201,
    worker_lost) instead of taking it back again, keeps none of its files, and lists it with
    the failed jobs; a retry then runs it to completion."""
    _fund(stack, tenant)
    worker = stack.start_worker()
    prompt = f"a burning ship trigger-slow {uuid.uuid4().hex[:6]}"
    job_id = _submit(api, prompt, n=3)
    runs: list[str] = []
    for attempt in range(MAX_RECOVERIES + 1):
        runs.append(_wait_for_new_run(stack, api, job_id, runs))
        assert _record(stack, job_id).recoveries == attempt
        if attempt == MAX_RECOVERIES:
            # As if this run had stored its images and died before recording them: the
            # files a run writes are at the job's own keys, and a failed job keeps none.
            for key in _job_files(_record(stack, job_id)):
                path = stack.data_dir / "blobs" / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"written by a run that died")
        os.kill(stack.runner(worker), signal.SIGKILL)

    failed = _wait_for_status(api, job_id, "failed", timeout=20)
    error = failed["status"]["error"]
    assert error["code"] == "IMG201", error
    assert error["details"]["reason"] == "worker_lost"
    assert error["details"]["attempts"] == MAX_RECOVERIES + 1
    assert "result" not in failed
    # Three runs lost, one hold: refunded once when the job failed.
    assert _ledger(stack, tenant, job_id) == [("refund", N3_PRICE, 0), ("reservation", N3_PRICE, 0)]
    _assert_balance(stack, tenant, FUNDS)
    assert _stored_images(stack, job_id) == 0
    assert _tenant_files(stack, tenant) == set()
    assert _record(stack, job_id).recoveries == MAX_RECOVERIES
    dead_letters = api.request("GET", "/v1/jobs", params={"status": "failed"})
    assert dead_letters.status_code == 200, dead_letters.text
    assert [job["job"]["job_id"] for job in dead_letters.json()["jobs"]] == [job_id]
    assert dead_letters.json()["jobs"][0]["can_retry"] is True

    retried = api.request("POST", f"/v1/jobs/{job_id}/retry")

    assert retried.status_code == 202, retried.text
    assert retried.json()["job"]["retry_count"] == 1
    # A new attempt, with the whole recovery allowance again: one more lost worker would
    # be recovered from, not taken for the fourth loss of this job.
    assert _record(stack, job_id).recoveries == 0
    _wait_for_status(api, job_id, "completed", timeout=20)
    _assert_completed_once(api, stack, job_id, n=3)
    assert _tenant_files(stack, tenant) == _job_files(_record(stack, job_id))
    assert api.request("GET", "/v1/jobs", params={"status": "failed"}).json()["jobs"] == []
    # The retry held the price again as attempt 1, and was charged once.
    assert _ledger(stack, tenant, job_id) == [
        ("charge", N3_PRICE, 1),
        ("refund", N3_PRICE, 0),
        ("reservation", N3_PRICE, 0),
        ("reservation", N3_PRICE, 1),
    ]
    _assert_balance(stack, tenant, FUNDS - N3_PRICE)


# --- Redis loses the queue ---------------------------------------------------------------


def _queued_in_redis(stack: RecoveryStack) -> set[str]:
    redis = stack.redis()
    return {
        job_id.decode()
        for name in QUEUE_NAMES
        for job_id in redis.lrange(f"rq:queue:{name}", 0, -1)
    }


def test_pending_jobs_survive_a_redis_restart_that_lost_the_queue(stack, api, tenant):
    """No worker runs (the last one stopped on SIGTERM); three jobs wait in SQLite and in
    Redis's queue; Redis dies and comes back empty. The next worker's sweeper queues them
    again once they have waited REQUEUE_AFTER_SECONDS, and each completes once."""
    worker = stack.start_worker()
    worker.popen.send_signal(signal.SIGTERM)
    assert worker.popen.wait(timeout=30) == 0
    tag = uuid.uuid4().hex[:6]
    job_ids = [_submit(api, f"a quiet harbour {i} {tag}", n=1) for i in range(3)]
    for job_id in job_ids:
        assert _job(api, job_id)["status"]["status"] == "pending"
    assert _queued_in_redis(stack) == set(job_ids)

    stack.restart_redis_empty()
    restarted_at = time.time()

    assert stack.redis().dbsize() == 0
    stack.start_worker()
    for job_id in job_ids:
        _wait_for_status(api, job_id, "completed", timeout=20)
    for job_id in job_ids:
        _assert_completed_once(api, stack, job_id, n=1)
        record = _record(stack, job_id)
        assert record.recoveries == 0  # never taken from a run: only queued again
        assert record.queued_at is not None and _at(record.queued_at) > restarted_at
        assert _seconds_between(record.created_at, record.queued_at) >= REQUEUE_AFTER_SECONDS
    expected = set().union(*(_job_files(_record(stack, job_id)) for job_id in job_ids))
    assert _tenant_files(stack, tenant) == expected


def test_a_flushed_redis_loses_no_job_and_runs_none_twice(stack, api, tenant):
    """FLUSHALL while two jobs run and a third waits in the queue: the running ones carry
    on (their runs hold the job in SQLite, not in Redis) and complete without a second
    run; the waiting one, lost with the queue, is queued again by the sweeper."""
    stack.start_worker()
    tag = uuid.uuid4().hex[:6]
    slow_prompts = [f"a glacier {i} trigger-slow {tag}" for i in range(2)]
    running = [_submit(api, prompt, n=2) for prompt in slow_prompts]
    for job_id in running:
        _wait_for_status(api, job_id, "processing")
    runs = {job_id: _record(stack, job_id).run_id for job_id in running}
    quick_prompt = f"a quick sketch of a pier {tag}"
    waiting = _submit(api, quick_prompt, n=1)
    assert _job(api, waiting)["status"]["status"] == "pending"
    assert waiting in _queued_in_redis(stack)

    stack.redis().flushall()
    flushed_at = time.time()

    for job_id in [*running, waiting]:
        _wait_for_status(api, job_id, "completed", timeout=20)
    for job_id in running:
        _assert_completed_once(api, stack, job_id, n=2)
        record = _record(stack, job_id)
        assert (record.run_id, record.recoveries) == (runs[job_id], 0)
    for prompt in slow_prompts:
        assert _model_calls(stack, prompt) == 2  # one call per image, by one run
    _assert_completed_once(api, stack, waiting, n=1)
    assert _model_calls(stack, quick_prompt) == 1
    queued_again = _record(stack, waiting).queued_at
    assert queued_again is not None and _at(queued_again) > flushed_at  # by the sweeper
    expected = set().union(*(_job_files(_record(stack, j)) for j in [*running, waiting]))
    assert _tenant_files(stack, tenant) == expected


def test_work_submitted_while_redis_is_down_is_accepted_and_runs_once_it_is_back(
    stack, api, tenant
):
    """One queue-failure policy for every submission: a job recorded is accepted, whether
    or not Redis took it. With Redis down, a synchronous generation (its wait cut short),
    an async one, a batch and a retry all answer 202 with their jobs pending; once Redis is
    back, the sweeper queues them and each runs once."""
    tag = uuid.uuid4().hex[:6]
    failed = _submit(api, f"a lighthouse trigger-error {tag}", n=1)
    stack.start_worker()
    _wait_for_status(api, failed, "failed", timeout=60)
    stack.stop_all_workers()
    stack.kill_redis()

    sync = api.generate(
        {"prompt": f"a harbour at dawn {tag}", "model": SDXL}, headers={"Prefer": "wait=5"}
    )
    assert sync.status_code == 202, sync.text
    async_job = _submit(api, f"a harbour at dusk {tag}", n=1)
    batch = api.request(
        "POST",
        "/v1/batches",
        json={"requests": [{"prompt": f"a pier {i} {tag}", "model": SDXL} for i in range(2)]},
    )
    assert batch.status_code == 202, batch.text
    retried = api.request("POST", f"/v1/jobs/{failed}/retry")
    assert retried.status_code == 202, retried.text
    job_ids = [sync.json()["job_id"], async_job, *batch.json()["job_ids"]]
    for job_id in [*job_ids, failed]:
        assert _job(api, job_id)["status"]["status"] == "pending"

    stack.start_redis()
    stack.start_worker()
    for job_id in job_ids:
        _wait_for_status(api, job_id, "completed", timeout=30)
        _assert_completed_once(api, stack, job_id, n=1)
    # The retry ran again (and failed again, on its trigger), once.
    assert _wait_for_status(api, failed, "failed", timeout=60)["retry_count"] == 1


# --- SIGTERM -----------------------------------------------------------------------------


def test_sigterm_lets_a_job_finish_within_the_grace(stack, api, tenant):
    """Grace 20 s, a 4 s job: the worker stops taking jobs, lets the running one complete,
    and only then exits, with status 0."""
    worker = stack.start_worker(grace_seconds=20)
    prompt = f"an orchard in spring trigger-slow {uuid.uuid4().hex[:6]}"
    job_id = _submit(api, prompt, n=1)
    _wait_for_status(api, job_id, "processing")
    processes = [worker.popen.pid, *descendants(worker.popen.pid)]
    runner = stack.runner(worker)

    worker.popen.send_signal(signal.SIGTERM)
    assert worker.popen.wait(timeout=30) == 0

    # Its heartbeat is gone with it, not left to expire: the backlog counts no busy slot.
    assert runner not in {r.pid for r in JobQueue(stack.redis()).runners()}
    # Completed by the time the worker is gone, by its only run.
    _assert_completed_once(api, stack, job_id, n=1)
    assert _model_calls(stack, prompt) == 1
    assert _record(stack, job_id).recoveries == 0
    assert not any(is_running(pid) for pid in processes)
    assert _tenant_files(stack, tenant) == _job_files(_record(stack, job_id))


def test_sigterm_hands_back_a_job_that_outlasts_the_grace(stack, api, tenant):
    """Grace 1 s, a job of over 4 s: the worker kills its runner, puts the job back on the
    queue (pending, not waiting for a lease to run out) and exits within grace + 10 s; the
    next worker runs it from the start, once."""
    grace = 1.0
    worker = stack.start_worker(grace_seconds=grace)
    prompt = f"a long caravan trigger-slow {uuid.uuid4().hex[:6]}"
    job_id = _submit(api, prompt, n=4)
    _wait_for_status(api, job_id, "processing")
    first_run = _record(stack, job_id).run_id
    processes = [worker.popen.pid, *descendants(worker.popen.pid)]

    stopping = time.monotonic()
    worker.popen.send_signal(signal.SIGTERM)
    assert worker.popen.wait(timeout=grace + 10) == 0
    assert time.monotonic() - stopping < grace + 10

    assert not any(is_running(pid) for pid in processes)  # the runner too
    handed_back = _job(api, job_id)
    assert handed_back["status"]["status"] == "pending"
    assert "shut down" in handed_back["status"]["message"]
    assert handed_back["status"]["progress"] == 0 and handed_back["started_at"] is None
    record = _record(stack, job_id)
    assert (record.run_id, record.recoveries) == (None, 1)
    assert JobQueue(stack.redis()).waiting_job_ids([job_id]) == {job_id}
    assert _tenant_files(stack, tenant) == set()  # its model calls had not answered

    stack.start_worker()
    _wait_for_status(api, job_id, "completed", timeout=20)
    _assert_completed_once(api, stack, job_id, n=4)
    record = _record(stack, job_id)
    assert record.run_id not in (None, first_run) and record.recoveries == 1
    assert _tenant_files(stack, tenant) == _job_files(record)


def test_a_shutdown_does_not_take_back_a_job_another_worker_took_over(stack, api, tenant):
    """Container A's runner stalls (SIGSTOP) until its lease runs out; the job is taken back
    and container B runs it. Then A gets SIGTERM with a 1 s grace: killing its stalled
    runner, it must not put the job back, as the job is no longer its run's; B completes it
    from its one run."""
    stalled = stack.start_worker(grace_seconds=1, concurrency=1)
    prompt = f"a frozen waterfall trigger-slow {uuid.uuid4().hex[:6]}"
    job_id = _submit(api, prompt, n=2)
    first_run = _wait_for_new_run(stack, api, job_id, [])
    runner = stack.runner(stalled)
    os.kill(runner, signal.SIGSTOP)  # alive, but no longer renewing its lease
    stack.start_worker()  # B
    second_run = _wait_for_new_run(stack, api, job_id, [first_run])
    assert _record(stack, job_id).recoveries == 1

    stalled.popen.send_signal(signal.SIGTERM)
    assert stalled.popen.wait(timeout=15) == 0
    assert not is_running(runner)

    _wait_for_status(api, job_id, "completed", timeout=20)
    record = _record(stack, job_id)
    assert (record.run_id, record.recoveries) == (second_run, 1)
    _assert_completed_once(api, stack, job_id, n=2)
    assert _tenant_files(stack, tenant) == _job_files(record)


def test_sigterm_hands_back_a_job_even_after_redis_lost_everything(stack, api, tenant):
    """FLUSHALL, then SIGTERM with a 1 s grace: Redis no longer knows which job the worker
    runs, yet the worker still hands back its run's job (it knows it without Redis) and
    queues it again, and the next worker completes it once."""
    worker = stack.start_worker(grace_seconds=1)
    prompt = f"a sunken city trigger-slow {uuid.uuid4().hex[:6]}"
    job_id = _submit(api, prompt, n=2)
    first_run = _wait_for_new_run(stack, api, job_id, [])
    stack.redis().flushall()

    worker.popen.send_signal(signal.SIGTERM)
    assert worker.popen.wait(timeout=11) == 0

    handed_back = _job(api, job_id)
    assert handed_back["status"]["status"] == "pending"
    assert "shut down" in handed_back["status"]["message"]
    assert JobQueue(stack.redis()).waiting_job_ids([job_id]) == {job_id}
    stack.start_worker()
    _wait_for_status(api, job_id, "completed", timeout=20)
    record = _record(stack, job_id)
    assert record.run_id not in (None, first_run) and record.recoveries == 1
    _assert_completed_once(api, stack, job_id, n=2)
    assert _tenant_files(stack, tenant) == _job_files(record)

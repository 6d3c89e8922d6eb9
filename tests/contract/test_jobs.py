"""The job state machine every repository keeps: conditional moves, run fencing, idempotency
bindings, the webhook outbox and batch completion, including under concurrent callers."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from imagegen.generation import parse_request, plan_generation
from imagegen.records import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    PROCESSING,
    WEBHOOK_DELIVERED,
    WEBHOOK_PENDING,
    Batch,
    IdempotencyKey,
    Job,
    Webhook,
    WebhookAttempt,
    utc_in,
    utc_now,
)
from imagegen.storage.repository import IdempotencyKeyTaken, Repository

ERROR = {"code": "IMG201", "message": "image generation failed", "details": {}}


@pytest.fixture
def repo(repository: Repository) -> Repository:
    return repository


def new_job(tenant: str = "t1", batch_id: str | None = None, **fields) -> Job:
    fields.setdefault("created_at", utc_now())
    return Job(
        job_id="job_" + uuid.uuid4().hex,
        tenant_id=tenant,
        user_id="u1",
        request_id="req_1",
        kind="text_to_image",
        request={"prompt": "a fox"},
        plan=plan_generation(parse_request({"prompt": "a fox"}), "amazon.nova-canvas-v1:0"),
        status=PENDING,
        batch_id=batch_id,
        **fields,
    )


def started(repo: Repository, job: Job, lease_seconds: float = 30) -> str:
    run_id = "run_" + uuid.uuid4().hex
    assert repo.start_job(job.job_id, run_id, utc_now(), utc_in(lease_seconds))
    return run_id


def status(repo: Repository, job: Job) -> str:
    loaded = repo.load_job(job.job_id)
    assert loaded is not None
    return loaded.status


def test_a_job_starts_once(repo):
    job = new_job()
    repo.add_job(job)
    run_id = started(repo, job)
    assert not repo.start_job(job.job_id, "run_other", utc_now(), utc_in(30))
    loaded = repo.load_job(job.job_id)
    assert loaded is not None and (loaded.status, loaded.run_id) == (PROCESSING, run_id)


def test_only_the_run_holding_the_job_records_its_outcome(repo):
    job = new_job()
    repo.add_job(job)
    stale = started(repo, job, lease_seconds=-1)  # its lease has run out
    [expired] = repo.jobs_with_expired_leases(utc_now(), 10)
    assert expired.job_id == job.job_id
    assert repo.requeue_job(job.job_id, stale, utc_now(), "queued again")
    current = started(repo, job)
    # The old run comes back to life: none of its writes land.
    assert not repo.renew_lease(job.job_id, stale, utc_in(30))
    assert not repo.update_progress(job.job_id, stale, 50, "half")
    assert not repo.complete_job(job.job_id, stale, [], {"price_usd": 0.0}, utc_now())
    assert not repo.fail_job(job.job_id, ERROR, utc_now(), stale)
    assert repo.renew_lease(job.job_id, current, utc_in(30))
    assert repo.complete_job(job.job_id, current, [], {"price_usd": 0.0}, utc_now())
    loaded = repo.load_job(job.job_id)
    assert loaded is not None and (loaded.status, loaded.recoveries) == (COMPLETED, 1)


def test_a_live_lease_is_not_expired(repo):
    job = new_job()
    repo.add_job(job)
    started(repo, job, lease_seconds=30)
    assert repo.jobs_with_expired_leases(utc_now(), 10) == []


def test_cancel_beats_a_running_attempt(repo):
    job = new_job()
    repo.add_job(job)
    run_id = started(repo, job)
    assert repo.cancel_job("t1", job.job_id, utc_now())
    assert not repo.update_progress(job.job_id, run_id, 10, "x")
    assert not repo.fail_job(job.job_id, ERROR, utc_now(), run_id)
    assert not repo.requeue_job(job.job_id, run_id, utc_now(), "x")
    assert status(repo, job) == CANCELLED
    assert not repo.cancel_job("t1", job.job_id, utc_now())


def test_another_tenant_cannot_cancel_or_retry(repo):
    job = new_job()
    repo.add_job(job)
    assert not repo.cancel_job("t2", job.job_id, utc_now())
    run_id = started(repo, job)
    assert repo.fail_job(job.job_id, ERROR, utc_now(), run_id)
    assert not repo.retry_job("t2", job.job_id, utc_now())
    assert repo.retry_job("t1", job.job_id, utc_now())
    loaded = repo.load_job(job.job_id)
    assert loaded is not None
    assert (loaded.status, loaded.retry_count, loaded.error) == (PENDING, 1, None)


def test_pending_jobs_are_listed_by_when_they_were_queued(repo):
    # Queued in different milliseconds: jobs queued in the same one have no set order.
    old, new = new_job(created_at=utc_in(-1)), new_job()
    repo.add_job(old)
    repo.add_job(new)
    cutoff = utc_in(1)
    assert [j.job_id for j in repo.pending_jobs(cutoff, 10)] == [old.job_id, new.job_id]
    assert repo.mark_queued(old.job_id, utc_in(5))
    assert [j.job_id for j in repo.pending_jobs(cutoff, 10)] == [new.job_id]


def test_marking_a_pending_job_queued_may_say_why_it_waits(repo):
    job = new_job()
    repo.add_job(job)
    assert repo.mark_queued(job.job_id, utc_now(), "waiting for model-x's quota")
    loaded = repo.load_job(job.job_id)
    assert loaded is not None
    assert (loaded.status, loaded.status_message) == (PENDING, "waiting for model-x's quota")
    assert repo.mark_queued(job.job_id, utc_now())  # no message: the last one stays
    assert repo.load_job(job.job_id).status_message == "waiting for model-x's quota"
    assert repo.start_job(job.job_id, "run_1", utc_now(), utc_in(30))
    assert not repo.mark_queued(job.job_id, utc_now(), "waiting again")  # only pending jobs


def test_failed_jobs_are_listed_newest_first_across_tenants(repo):
    jobs = [
        new_job(tenant, created_at=f"2026-11-0{day}T00:00:00.000Z")
        for day, tenant in ((1, "t1"), (2, "t2"), (3, "t1"))
    ]
    for job in jobs:
        repo.add_job(job)
        repo.fail_job(job.job_id, ERROR, utc_now())
    assert [j.job_id for j in repo.list_jobs(None, FAILED, 10)] == [
        j.job_id for j in reversed(jobs)
    ]
    assert [j.job_id for j in repo.list_jobs("t1", FAILED, 10)] == [jobs[2].job_id, jobs[0].job_id]
    assert repo.list_jobs("t1", COMPLETED, 10) == []


def test_pages_of_jobs_made_in_the_same_millisecond_miss_none(repo):
    same_time = "2026-11-01T00:00:00.000Z"
    jobs = [new_job(created_at=same_time) for _ in range(5)]
    for job in jobs:
        repo.add_job(job)
    seen, after = [], None
    while True:
        page = repo.list_jobs("t1", None, 2, after)
        seen += [j.job_id for j in page]
        if len(page) < 2:
            break
        after = (page[-1].created_at, page[-1].job_id)
    assert sorted(seen) == sorted(j.job_id for j in jobs)
    assert len(seen) == 5


def _binding(key: str, resource_id: str, tenant: str = "t1", ttl: float = 60) -> IdempotencyKey:
    return IdempotencyKey(tenant, key, "hash", resource_id, utc_now(), utc_in(ttl))


def test_a_key_binds_one_job_even_when_requests_race(repo):
    jobs = [new_job() for _ in range(16)]
    barrier = threading.Barrier(len(jobs))

    def add(job: Job) -> str:
        barrier.wait()
        try:
            repo.add_job(job, _binding("k1", job.job_id))
            return job.job_id
        except IdempotencyKeyTaken as taken:
            return taken.existing.resource_id

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        winners = set(pool.map(add, jobs))
    assert len(winners) == 1
    [winner] = winners
    recorded = [job for job in jobs if repo.load_job(job.job_id) is not None]
    assert [job.job_id for job in recorded] == [winner]  # the losers wrote nothing


def test_keys_are_per_tenant_and_expire(repo):
    first, theirs, later = new_job(), new_job("t2"), new_job()
    repo.add_job(first, _binding("k", first.job_id, ttl=-1))  # already expired
    repo.add_job(theirs, _binding("k", theirs.job_id, tenant="t2"))
    assert repo.find_idempotency_key("t1", "k", utc_now()) is None
    repo.add_job(later, _binding("k", later.job_id))  # an expired key can be used again
    found = repo.find_idempotency_key("t1", "k", utc_now())
    assert found is not None and found.resource_id == later.job_id
    assert repo.delete_expired_idempotency_keys(utc_in(120)) == 2


def _webhook(subject_id: str) -> Webhook:
    now = utc_now()
    return Webhook(
        webhook_id="msg_" + uuid.uuid4().hex,
        tenant_id="t1",
        subject_id=subject_id,
        event="image.generation.completed",
        url="https://hooks.example.com/x",
        created_at=now,
        next_attempt_at=now,
    )


def test_the_webhook_is_written_with_the_outcome_and_claimed_once(repo):
    job = new_job(webhook_url="https://hooks.example.com/x")
    repo.add_job(job)
    run_id = started(repo, job)
    webhook = _webhook(job.job_id)
    assert repo.complete_job(job.job_id, run_id, [], {"price_usd": 0.0}, utc_now(), webhook)
    claims = []
    barrier = threading.Barrier(4)

    def claim() -> int:
        barrier.wait()
        return len(repo.claim_due_webhooks(utc_in(1), utc_in(60), 10))

    with ThreadPoolExecutor(max_workers=4) as pool:
        claims = list(pool.map(lambda _: claim(), range(4)))
    assert sorted(claims) == [0, 0, 0, 1]


def test_a_delivered_webhook_marks_its_job(repo):
    job = new_job(webhook_url="https://hooks.example.com/x")
    repo.add_job(job)
    webhook = _webhook(job.job_id)
    assert repo.fail_job(job.job_id, ERROR, utc_now(), None, webhook)

    def attempt(number: int, status_code: int) -> WebhookAttempt:
        return WebhookAttempt(
            webhook.webhook_id, job.job_id, "t1", webhook.event, number, utc_now(),
            status_code, None, 12.5,
        )  # fmt: skip

    repo.record_webhook_attempt(attempt(1, 500), "{}", WEBHOOK_PENDING, utc_in(60))
    assert repo.claim_due_webhooks(utc_now(), utc_in(60), 10) == []  # not due yet
    loaded = repo.load_job(job.job_id)
    assert loaded is not None and not loaded.webhook_delivered
    repo.record_webhook_attempt(attempt(2, 204), "{}", WEBHOOK_DELIVERED, None)
    loaded = repo.load_job(job.job_id)
    assert loaded is not None and loaded.webhook_delivered
    assert [a.status_code for a in repo.webhook_attempts("t1", job.job_id)] == [500, 204]
    assert repo.webhook_attempts("t2", job.job_id) == []


def test_a_batch_finishes_once_when_its_last_jobs_finish_together(repo):
    batch_id = "bat_" + uuid.uuid4().hex
    jobs = [new_job(batch_id=batch_id) for _ in range(8)]
    batch = Batch(
        batch_id, "t1", "u1", "req_1", [j.job_id for j in jobs], PENDING, utc_now(),
        webhook_url="https://hooks.example.com/b",
    )  # fmt: skip
    repo.add_batch(batch, jobs)
    assert not repo.finish_batch_if_done(batch_id, utc_now())
    runs = {job.job_id: started(repo, job) for job in jobs}
    barrier = threading.Barrier(len(jobs))

    def finish(job: Job) -> bool:
        barrier.wait()
        repo.complete_job(job.job_id, runs[job.job_id], [], {"price_usd": 0.0}, utc_now())
        return repo.finish_batch_if_done(batch_id, utc_now(), _webhook(batch_id))

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        finished = list(pool.map(finish, jobs))
    assert finished.count(True) == 1
    loaded = repo.get_batch("t1", batch_id)
    assert loaded is not None and loaded.status == COMPLETED
    assert set(repo.batch_job_states(batch_id).values()) == {COMPLETED}
    assert len(repo.claim_due_webhooks(utc_in(1), utc_in(60), 10)) == 1
    assert repo.get_batch("t2", batch_id) is None


def test_a_users_history_lists_only_their_jobs(repo):
    mine = [new_job(created_at=f"2026-11-0{day}T00:00:00.000Z") for day in (1, 2, 3)]
    theirs = new_job(created_at="2026-11-04T00:00:00.000Z")
    theirs.user_id = "u2"
    for job in (*mine, theirs):
        repo.add_job(job)
    history = repo.list_jobs("t1", None, 10, user_id="u1")
    assert [j.job_id for j in history] == [j.job_id for j in reversed(mine)]
    assert [j.job_id for j in repo.list_jobs("t1", None, 10, user_id="u2")] == [theirs.job_id]
    first_page = repo.list_jobs("t1", PENDING, 2, user_id="u1")
    last = first_page[-1]
    rest = repo.list_jobs("t1", PENDING, 2, (last.created_at, last.job_id), user_id="u1")
    assert [j.job_id for j in first_page + rest] == [j.job_id for j in reversed(mine)]

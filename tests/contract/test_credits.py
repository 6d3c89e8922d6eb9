"""Tenants' credits on every repository: a metered job reserves its price when it is recorded
and settles it when it leaves pending/processing, exactly once per attempt, with a ledger
entry for every move; concurrent jobs lose no update of the balance."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from imagegen.records import (
    CHARGE,
    COMPLETED,
    GRANT,
    REFUND,
    RESERVATION,
    Batch,
    CreditAccount,
    IdempotencyKey,
    utc_in,
    utc_now,
)
from imagegen.storage.repository import IdempotencyKeyTaken, InsufficientCredits, Repository
from tests.contract.test_jobs import ERROR, new_job, started

PRICE = 400  # CREDIT_UNITS: 4 credits


@pytest.fixture
def repo(repository: Repository) -> Repository:
    return repository


def funded(repo: Repository, units: int, tenant: str = "t1") -> CreditAccount:
    return repo.grant_credits(tenant, units, utc_now(), "test grant")


def account(repo: Repository, tenant: str = "t1") -> tuple[int, int]:
    found = repo.credit_account(tenant)
    assert found is not None
    return found.balance, found.reserved


def kinds(repo: Repository, job_id: str) -> list[tuple[str, int, int | None]]:
    entries = repo.ledger_entries("t1", 100, job_id=job_id)
    return sorted((entry.kind, entry.amount, entry.attempt) for entry in entries)


def test_an_unmetered_tenant_has_no_account_and_its_jobs_hold_nothing(repo):
    job = new_job()
    repo.add_job(job)
    run_id = started(repo, job)
    assert repo.complete_job(job.job_id, run_id, [], {"credits_used": 4.0}, utc_now())
    assert repo.credit_account("t1") is None
    assert repo.ledger_entries("t1", 10) == []


def test_grants_open_the_account_and_are_in_the_ledger(repo):
    assert funded(repo, 1000).balance == 1000
    assert repo.grant_credits("t1", 250, utc_now(), "top-up").balance == 1250
    assert repo.grant_credits("t1", -50, utc_now(), "correction").balance == 1200
    with pytest.raises(ValueError):
        repo.grant_credits("t1", -5000, utc_now(), "too much")
    entries = repo.ledger_entries("t1", 10)
    assert [(e.kind, e.amount, e.note) for e in entries] == [
        (GRANT, -50, "correction"),
        (GRANT, 250, "top-up"),
        (GRANT, 1000, "test grant"),
    ]
    assert account(repo) == (1200, 0)


def test_an_opening_balance_is_given_once(repo):
    assert repo.open_credit_account("t1", 500, utc_now()).balance == 500
    assert repo.open_credit_account("t1", 500, utc_now()).balance == 500
    assert len(repo.ledger_entries("t1", 10)) == 1


def test_a_completed_job_is_charged_for_the_images_it_made_and_refunded_the_rest(repo):
    funded(repo, 1000)
    job = new_job(reserved_credits=PRICE)
    repo.add_job(job)
    assert account(repo) == (600, PRICE)
    run_id = started(repo, job)

    assert repo.complete_job(job.job_id, run_id, [], {"credits_used": 3.0}, utc_now())

    assert account(repo) == (700, 0)
    assert kinds(repo, job.job_id) == [
        (CHARGE, 300, 0),
        (REFUND, 100, 0),
        (RESERVATION, PRICE, 0),
    ]


def test_a_failed_or_cancelled_job_is_refunded_all(repo):
    funded(repo, 1000)
    failing, cancelled = new_job(reserved_credits=PRICE), new_job(reserved_credits=PRICE)
    repo.add_job(failing)
    repo.add_job(cancelled)
    assert account(repo) == (200, 2 * PRICE)

    assert repo.fail_job(failing.job_id, ERROR, utc_now(), started(repo, failing))
    assert repo.cancel_job("t1", cancelled.job_id, utc_now())

    assert account(repo) == (1000, 0)
    for job in (failing, cancelled):
        assert kinds(repo, job.job_id) == [(REFUND, PRICE, 0), (RESERVATION, PRICE, 0)]


def test_a_settled_job_is_never_settled_again(repo):
    funded(repo, 1000)
    job = new_job(reserved_credits=PRICE)
    repo.add_job(job)
    run_id = started(repo, job)
    assert repo.complete_job(job.job_id, run_id, [], {"credits_used": 4.0}, utc_now())

    # A late cancel, a second completion of the same run, a failure: all refused.
    assert not repo.cancel_job("t1", job.job_id, utc_now())
    assert not repo.complete_job(job.job_id, run_id, [], {"credits_used": 4.0}, utc_now())
    assert not repo.fail_job(job.job_id, ERROR, utc_now(), run_id)

    assert account(repo) == (600, 0)
    assert kinds(repo, job.job_id) == [(CHARGE, PRICE, 0), (RESERVATION, PRICE, 0)]


def test_a_job_taken_back_from_a_dead_worker_keeps_one_hold(repo):
    funded(repo, 1000)
    job = new_job(reserved_credits=PRICE)
    repo.add_job(job)
    dead = started(repo, job, lease_seconds=-1)
    assert repo.requeue_job(job.job_id, dead, utc_now(), "taken back")
    run_id = started(repo, job)
    assert not repo.complete_job(job.job_id, dead, [], {"credits_used": 4.0}, utc_now())
    assert repo.complete_job(job.job_id, run_id, [], {"credits_used": 4.0}, utc_now())

    assert account(repo) == (600, 0)
    assert kinds(repo, job.job_id) == [(CHARGE, PRICE, 0), (RESERVATION, PRICE, 0)]


def test_a_retry_reserves_again_and_settles_as_its_own_attempt(repo):
    funded(repo, 1000)
    job = new_job(reserved_credits=PRICE)
    repo.add_job(job)
    assert repo.fail_job(job.job_id, ERROR, utc_now(), started(repo, job))

    assert repo.retry_job("t1", job.job_id, utc_now())
    assert account(repo) == (600, PRICE)
    assert repo.complete_job(job.job_id, started(repo, job), [], {"credits_used": 4.0}, utc_now())

    assert account(repo) == (600, 0)
    assert kinds(repo, job.job_id) == [
        (CHARGE, PRICE, 1),
        (REFUND, PRICE, 0),
        (RESERVATION, PRICE, 0),
        (RESERVATION, PRICE, 1),
    ]


def test_a_retry_the_balance_cannot_pay_for_changes_nothing(repo):
    funded(repo, PRICE)
    job = new_job(reserved_credits=PRICE)
    repo.add_job(job)
    assert repo.fail_job(job.job_id, ERROR, utc_now(), started(repo, job))
    repo.grant_credits("t1", -PRICE + 10, utc_now(), "spent elsewhere")

    with pytest.raises(InsufficientCredits) as refused:
        repo.retry_job("t1", job.job_id, utc_now())

    assert refused.value.account is not None and refused.value.account.balance == 10
    loaded = repo.load_job(job.job_id)
    assert loaded is not None and loaded.status == "failed" and loaded.retry_count == 0
    assert account(repo) == (10, 0)


def test_a_job_the_balance_cannot_pay_for_is_not_recorded(repo):
    funded(repo, PRICE - 1)
    job = new_job(reserved_credits=PRICE)
    binding = IdempotencyKey("t1", "key-1", "hash", job.job_id, utc_now(), utc_in(60))

    with pytest.raises(InsufficientCredits) as refused:
        repo.add_job(job, binding)

    assert refused.value.price == PRICE
    assert refused.value.account is not None and refused.value.account.balance == PRICE - 1
    assert repo.load_job(job.job_id) is None
    assert repo.find_idempotency_key("t1", "key-1", utc_now()) is None
    assert account(repo) == (PRICE - 1, 0)


def test_a_tenant_without_an_account_cannot_record_a_metered_job(repo):
    with pytest.raises(InsufficientCredits) as refused:
        repo.add_job(new_job(reserved_credits=PRICE))
    assert refused.value.account is None


def test_a_key_taken_reserves_nothing(repo):
    funded(repo, 1000)
    first = new_job(reserved_credits=PRICE)
    repo.add_job(first, IdempotencyKey("t1", "k", "h", first.job_id, utc_now(), utc_in(60)))
    second = new_job(reserved_credits=PRICE)
    with pytest.raises(IdempotencyKeyTaken):
        repo.add_job(second, IdempotencyKey("t1", "k", "h", second.job_id, utc_now(), utc_in(60)))
    assert account(repo) == (600, PRICE)


def test_a_batch_reserves_its_jobs_in_one_entry_and_settles_each(repo):
    funded(repo, 1000)
    batch_id = "bat_" + uuid.uuid4().hex
    jobs = [new_job(batch_id=batch_id, reserved_credits=PRICE) for _ in range(2)]
    batch = Batch(batch_id, "t1", "u1", "req", [j.job_id for j in jobs], "pending", utc_now())
    repo.add_batch(batch, jobs)
    assert account(repo) == (200, 2 * PRICE)
    [reservation] = [e for e in repo.ledger_entries("t1", 10) if e.kind == RESERVATION]
    assert (reservation.batch_id, reservation.amount) == (batch_id, 2 * PRICE)

    assert repo.complete_job(
        jobs[0].job_id, started(repo, jobs[0]), [], {"credits_used": 4.0}, utc_now()
    )
    assert repo.cancel_job("t1", jobs[1].job_id, utc_now())
    assert account(repo) == (600, 0)

    too_big = [new_job(batch_id="bat_2", reserved_credits=PRICE) for _ in range(2)]
    with pytest.raises(InsufficientCredits):
        repo.add_batch(Batch("bat_2", "t1", "u1", "r", [], "pending", utc_now()), too_big)
    assert repo.get_batch("t1", "bat_2") is None
    assert account(repo) == (600, 0)


def test_concurrent_jobs_lose_no_update_of_the_balance(repo):
    funded(repo, 100 * PRICE)
    jobs = [new_job(reserved_credits=PRICE) for _ in range(12)]

    def run(index: int) -> None:
        job = jobs[index]
        repo.add_job(job)
        run_id = started(repo, job)
        if index % 3 == 0:
            assert repo.fail_job(job.job_id, ERROR, utc_now(), run_id)
        else:
            assert repo.complete_job(job.job_id, run_id, [], {"credits_used": 3.0}, utc_now())

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(run, range(len(jobs))))

    # 8 completed at 3 credits each, 4 failed and refunded.
    assert account(repo) == (100 * PRICE - 8 * 300, 0)
    for job in jobs:
        loaded = repo.load_job(job.job_id)
        assert loaded is not None and loaded.status in (COMPLETED, "failed")


def test_the_ledger_is_per_tenant(repo):
    funded(repo, 1000, tenant="t1")
    funded(repo, 50, tenant="t2")
    assert [e.amount for e in repo.ledger_entries("t2", 10)] == [50]
    assert account(repo, "t2") == (50, 0)

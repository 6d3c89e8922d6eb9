"""Each tenant's concurrent jobs (imagegen.tenant_concurrency) against a real Redis: the cap,
the line jobs wait in without a worker slot, slots that free themselves when their lease
runs out, atomicity under callers in several processes, and admission without Redis."""

from __future__ import annotations

import multiprocessing
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from rq.job import Job as RqJob

from imagegen.jobqueue import CANCEL_KEY_PREFIX, JobQueue, queue_name
from imagegen.quota import rank
from imagegen.tenant_concurrency import TenantSlots, WaitingJob

LEASE_SECONDS = 30.0


def _tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:12]}"


def _job() -> str:
    return f"job_{uuid.uuid4().hex}"


def _rank(priority: int = 5, seconds: float = 0.0) -> float:
    return rank(priority, datetime(2030, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds))


@pytest.fixture
def own_redis_url(redis_url: str) -> str:
    """A database no worker uses: the shared stack's runner would take jobs from the lines."""
    return redis_url.rsplit("/", 1)[0] + "/8"


@pytest.fixture
def redis(own_redis_url: str) -> Redis:
    return Redis.from_url(own_redis_url)


@pytest.fixture
def slots(redis: Redis) -> TenantSlots:
    return TenantSlots(redis, LEASE_SECONDS)


def test_a_tenant_runs_at_most_its_cap_and_the_others_wait_in_line(slots):
    tenant = _tenant()
    jobs = [_job() for _ in range(4)]
    admissions = [slots.admit(tenant, job, 2, _rank(seconds=i)) for i, job in enumerate(jobs)]
    assert [a.admitted for a in admissions] == [True, True, False, False]
    assert [a.running for a in admissions] == [1, 2, 2, 2]
    assert slots.running(tenant) == sorted(jobs[:2])
    assert slots.waiting(tenant) == jobs[2:]
    assert tenant in slots.waiting_tenants()
    # At its cap the tenant's line gives nothing; a freed slot goes to the first in line.
    assert slots.take_waiting({tenant: 2}) is None
    assert slots.release(tenant, jobs[0]) == 2  # two wait
    assert slots.take_waiting({tenant: 2}) == WaitingJob(jobs[2], tenant)
    assert slots.running(tenant) == sorted([jobs[1], jobs[2]])
    slots.release(tenant, jobs[1])
    assert slots.take_waiting({tenant: 2}) == WaitingJob(jobs[3], tenant)
    # The line is empty: the tenant leaves the set the runners look at.
    assert slots.take_waiting({tenant: 2}) is None
    assert tenant not in slots.waiting_tenants()


def test_without_a_cap_every_job_is_admitted_and_counted(slots):
    tenant = _tenant()
    jobs = [_job() for _ in range(5)]
    assert all(slots.admit(tenant, job, None, _rank()).admitted for job in jobs)
    assert slots.running(tenant) == sorted(jobs)
    # Counted all the same: a cap set now holds back the next job.
    assert not slots.admit(tenant, _job(), 5, _rank()).admitted


def test_a_job_holding_a_slot_keeps_it_when_admitted_again(slots):
    """A run replacing a dead one, or a job taken from the line with its slot, is admitted
    at its cap: the slot is already its own."""
    tenant, job = _tenant(), _job()
    assert slots.admit(tenant, job, 1, _rank()).admitted
    again = slots.admit(tenant, job, 1, _rank())
    assert again.admitted and again.running == 1
    waiting = _job()
    assert not slots.admit(tenant, waiting, 1, _rank(seconds=1)).admitted
    slots.release(tenant, job)
    taken = slots.take_waiting({tenant: 1})
    assert taken == WaitingJob(waiting, tenant)
    assert slots.admit(tenant, waiting, 1, _rank(seconds=1)).admitted
    assert slots.running(tenant) == [waiting]


def test_waiting_jobs_go_by_priority_then_age_across_tenants(slots):
    first, second = _tenant(), _tenant()
    for tenant in (first, second):
        assert slots.admit(tenant, _job(), 1, _rank()).admitted
    old_low, new_high, older_mid = _job(), _job(), _job()
    slots.admit(first, old_low, 1, _rank(1, seconds=1))
    slots.admit(first, new_high, 1, _rank(9, seconds=9))
    slots.admit(second, older_mid, 1, _rank(5, seconds=2))
    assert slots.waiting(first) == [new_high, old_low]
    # Both tenants at their cap: nothing.
    assert slots.take_waiting({first: 1, second: 1}) is None
    # Raised caps: the priority-9 job first, then priority 5, then 1, whoever's they are.
    caps = {first: 3, second: 3}
    taken = [slots.take_waiting(caps) for _ in range(4)]
    assert taken == [
        WaitingJob(new_high, first),
        WaitingJob(older_mid, second),
        WaitingJob(old_low, first),
        None,
    ]


def test_a_tenant_at_its_cap_is_passed_over_for_another_with_room(slots):
    busy, idle = _tenant(), _tenant()
    assert slots.admit(busy, _job(), 1, _rank()).admitted
    busy_waiting = _job()
    slots.admit(busy, busy_waiting, 1, _rank(9))
    assert slots.admit(idle, _job(), 1, _rank()).admitted
    idle_waiting = _job()
    slots.admit(idle, idle_waiting, 1, _rank(1, seconds=1))
    # The priority-9 job waits for its own tenant; the other tenant's limit was raised.
    assert slots.take_waiting({busy: 1, idle: 2}) == WaitingJob(idle_waiting, idle)
    assert slots.waiting(busy) == [busy_waiting]


def test_a_newcomer_does_not_overtake_its_tenants_waiting_jobs(slots):
    tenant = _tenant()
    running, waiting, newcomer = _job(), _job(), _job()
    assert slots.admit(tenant, running, 1, _rank()).admitted
    assert not slots.admit(tenant, waiting, 1, _rank(seconds=1)).admitted
    slots.release(tenant, running)
    # A slot is free, but the job accepted earlier waits for it.
    assert not slots.admit(tenant, newcomer, 1, _rank(seconds=2)).admitted
    assert slots.waiting(tenant) == [waiting, newcomer]
    # One of a higher priority goes first, as it would in the queues.
    urgent = _job()
    assert slots.admit(tenant, urgent, 1, _rank(9, seconds=3)).admitted


def test_a_slot_not_renewed_frees_itself_when_its_lease_would_run_out(redis):
    slots = TenantSlots(redis, 0.3)
    tenant, dead, renewed = _tenant(), _job(), _job()
    assert slots.admit(tenant, dead, 2, _rank()).admitted
    assert slots.admit(tenant, renewed, 2, _rank()).admitted
    waiting = _job()
    assert not slots.admit(tenant, waiting, 2, _rank(seconds=1)).admitted
    for _ in range(3):
        time.sleep(0.15)
        slots.renew(tenant, renewed)
    # The dead run's slot ran out; the renewed one did not.
    assert slots.running(tenant) == [renewed]
    assert slots.take_waiting({tenant: 2}) == WaitingJob(waiting, tenant)
    time.sleep(0.4)
    assert slots.running(tenant) == []
    # So does the tenant's set, once no slot is renewed.
    time.sleep(1.0)
    assert not redis.exists(slots.running_key(tenant))


def test_a_renewal_takes_back_a_slot_that_ran_out(redis):
    """A run stalled past its slot's lifetime still runs: it counts again."""
    slots = TenantSlots(redis, 0.1)
    tenant, job = _tenant(), _job()
    assert slots.admit(tenant, job, 1, _rank()).admitted
    time.sleep(0.2)
    assert slots.running(tenant) == []
    slots.renew(tenant, job)
    assert slots.running(tenant) == [job]


def test_a_waiting_job_is_deferred_in_rqs_record(slots, redis):
    """The sweeper counts a deferred job as waiting, so it never queues it again."""
    tenant, running, waiting, unrecorded = _tenant(), _job(), _job(), _job()
    JobQueue(redis).enqueue_generation(waiting, "req_test", 5)
    redis.delete("rq:queue:" + queue_name(5))  # taken off its queue, as a runner does
    assert slots.admit(tenant, running, 1, _rank()).admitted
    assert not slots.admit(tenant, waiting, 1, _rank(seconds=1)).admitted
    assert redis.hget(RqJob.key_for(waiting), "status") == b"deferred"
    # A job RQ has no record of gets none made up.
    assert not slots.admit(tenant, unrecorded, 1, _rank(seconds=2)).admitted
    assert not redis.exists(RqJob.key_for(unrecorded))
    # Taken from the line, it is started: if its taker dies now, the sweeper queues it.
    slots.release(tenant, running)
    assert slots.take_waiting({tenant: 1}) == WaitingJob(waiting, tenant)
    assert redis.hget(RqJob.key_for(waiting), "status") == b"started"
    started = RqJob.fetch(waiting, connection=redis).started_at
    assert started is not None and abs((datetime.now(UTC) - started).total_seconds()) < 5
    slots.release(tenant, waiting)
    assert slots.take_waiting({tenant: 1}) == WaitingJob(unrecorded, tenant)
    assert not redis.exists(RqJob.key_for(unrecorded))


def test_cancelled_jobs_leave_the_line_without_a_slot(slots, redis):
    tenant = _tenant()
    running = _job()
    assert slots.admit(tenant, running, 1, _rank()).admitted
    cancelled = [_job() for _ in range(3)]
    kept = _job()
    for index, job in enumerate(cancelled):
        slots.admit(tenant, job, 1, _rank(seconds=1 + index))
        redis.set(CANCEL_KEY_PREFIX + job, "1", ex=60)
    slots.admit(tenant, kept, 1, _rank(seconds=10))
    slots.release(tenant, running)
    assert slots.take_waiting({tenant: 1}) == WaitingJob(kept, tenant)
    assert slots.waiting(tenant) == []


def test_time_in_the_line_is_kept_across_stays(slots):
    tenant, running, job = _tenant(), _job(), _job()
    assert slots.waited_seconds(job) == 0.0
    assert slots.admit(tenant, running, 1, _rank()).admitted
    assert not slots.admit(tenant, job, 1, _rank(seconds=1)).admitted
    time.sleep(0.2)
    slots.release(tenant, running)
    assert slots.take_waiting({tenant: 1}) == WaitingJob(job, tenant)
    first = slots.waited_seconds(job)
    assert 0.15 <= first < 1.0
    # A second stay (after a recovery, say) adds to it.
    slots.release(tenant, job)
    assert slots.admit(tenant, running, 1, _rank()).admitted
    assert not slots.admit(tenant, job, 1, _rank(seconds=1)).admitted
    time.sleep(0.2)
    slots.release(tenant, running)
    assert slots.admit(tenant, job, 1, _rank(seconds=1)).admitted  # the head of the line
    assert first + 0.15 <= slots.waited_seconds(job) < first + 1.0


def test_releasing_a_slot_not_held_changes_nothing(slots):
    tenant, job = _tenant(), _job()
    assert slots.release(tenant, job) == 0
    assert slots.admit(tenant, job, 1, _rank()).admitted
    assert slots.release(tenant, _job()) == 0
    assert slots.running(tenant) == [job]


def test_without_redis_jobs_are_admitted_and_nothing_raises():
    slots = TenantSlots(Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1), 30)
    tenant, job = _tenant(), _job()
    assert slots.admit(tenant, job, 1, _rank()).admitted
    assert slots.admit(tenant, _job(), 1, _rank()).admitted
    slots.renew(tenant, job)
    assert slots.release(tenant, job) == 0
    assert slots.waited_seconds(job) == 0.0


def _contend(redis_url: str, tenant: str, cap: int, seconds: float, results) -> None:
    """Submit jobs and run what is admitted or taken from the line; each run counts itself
    in a counter of its own and records the highest count it saw."""
    redis = Redis.from_url(redis_url)
    slots = TenantSlots(redis, LEASE_SECONDS)
    counter = f"test:running:{tenant}"
    submitted, ran, highest = [], [], 0

    def run(job: str) -> None:
        nonlocal highest
        highest = max(highest, int(redis.incr(counter)))
        time.sleep(random.uniform(0, 0.004))
        redis.decr(counter)
        ran.append(job)
        slots.release(tenant, job)

    started = time.monotonic()
    while time.monotonic() < started + seconds:
        if random.random() < 0.5:
            job = _job()
            submitted.append(job)
            if slots.admit(tenant, job, cap, rank(5, datetime.now(UTC))).admitted:
                run(job)
        elif (taken := slots.take_waiting({tenant: cap})) is not None:
            run(taken.job_id)
    results.put((submitted, ran, highest))


def test_callers_in_several_processes_never_exceed_the_cap_and_lose_no_job(own_redis_url):
    tenant, cap = _tenant(), 3
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [
        context.Process(target=_contend, args=(own_redis_url, tenant, cap, 1.5, results))
        for _ in range(6)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=30) for _ in processes]
    for process in processes:
        process.join()
    slots = TenantSlots(Redis.from_url(own_redis_url), LEASE_SECONDS)
    leftover = []
    while (taken := slots.take_waiting({tenant: cap})) is not None:
        leftover.append(taken.job_id)
        slots.release(tenant, taken.job_id)
    submitted = [job for outcome in outcomes for job in outcome[0]]
    ran = [job for outcome in outcomes for job in outcome[1]] + leftover
    assert max(outcome[2] for outcome in outcomes) <= cap
    assert max(outcome[2] for outcome in outcomes) == cap  # the cap was reached, so tested
    assert sorted(ran) == sorted(submitted)  # every job ran, once
    assert len(submitted) > 100

"""Queueing jobs (imagegen.jobqueue.JobQueue) on a real Redis: RQ's records, as the runners
read them, written in one round trip."""

from __future__ import annotations

import uuid

import pytest
from redis import Redis
from redis.connection import AbstractConnection
from rq.job import Job as RqJob
from rq.job import JobStatus

from imagegen.jobqueue import GENERATION_JOB, JobQueue, queue_name

# A database of its own, emptied for each test: tests/conftest.py's stacks use 0 and 11-15,
# tests/app 10, tests/usecases 9 and 7, tests/unit/test_tenant_concurrency.py 8.
REDIS_DB = 6


@pytest.fixture
def redis(redis_url: str) -> Redis:
    client = Redis.from_url(f"{redis_url.rsplit('/', 1)[0]}/{REDIS_DB}")
    client.flushdb()
    return client


def _job_id() -> str:
    return "job_" + uuid.uuid4().hex


def test_each_job_goes_on_its_prioritys_queue_as_rq_records_it(redis: Redis) -> None:
    queue = JobQueue(redis)
    jobs = [(_job_id(), "req_a", 5), (_job_id(), "req_b", 9), (_job_id(), "req_c", 5)]
    queue.enqueue_generations(jobs)
    for job_id, request_id, priority in jobs:
        rq_job = RqJob.fetch(job_id, connection=redis)
        assert rq_job.func_name == GENERATION_JOB
        assert rq_job.args == (job_id,)
        assert rq_job.meta == {"request_id": request_id}
        assert rq_job.timeout == -1
        assert rq_job.origin == queue_name(priority)
        assert rq_job.get_status() == JobStatus.QUEUED
    on_5 = [job_id.decode() for job_id in redis.lrange("rq:queue:" + queue_name(5), 0, -1)]
    assert on_5 == [jobs[0][0], jobs[2][0]]
    assert redis.lrange("rq:queue:" + queue_name(9), 0, -1) == [jobs[1][0].encode()]
    assert queue.waiting_job_ids([job_id for job_id, _, _ in jobs]) == {j[0] for j in jobs}


def test_jobs_are_queued_in_one_round_trip(redis: Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    queue = JobQueue(redis)
    queue.enqueue_generation(_job_id(), "req_a", 5)  # RQ reads the server's version once
    queue.enqueue_generation(_job_id(), "req_a", 7)
    sent = []
    original = AbstractConnection.send_packed_command

    def counting(self: AbstractConnection, command: object, check_health: bool = True) -> None:
        sent.append(command)
        original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    queue.enqueue_generation(_job_id(), "req_a", 5)
    assert len(sent) == 1
    sent.clear()
    queue.enqueue_generations([(_job_id(), "req_b", 5), (_job_id(), "req_b", 7)])
    assert len(sent) == 1

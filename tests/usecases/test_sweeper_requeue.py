"""The sweeper queues again a pending job that Redis lost, and only such a job: not one
waiting in a line (deferred), nor one a runner has just taken from a line (started in RQ's
record a moment before the database says so), however long it waited there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq.job import Job as RqJob
from rq.utils import utcformat

from imagegen.caller import Caller
from imagegen.config import Settings
from imagegen.generation import parse_request
from imagegen.jobqueue import QUEUE_NAMES
from imagegen.records import utc_timestamp
from imagegen.services import Services, build_services
from imagegen.submissions import submit_generation
from localrun import EVERY_MODEL_ACTIVE
from worker.sweeper import Sweeper

CALLER = Caller(tenant_id="t1", user_id="u1", request_id="req_test")
REQUEUE_AFTER_SECONDS = 30


@pytest.fixture
def svc(tmp_path: Path, redis_url: str) -> Iterator[Services]:
    # A database of its own on the suite's Redis, so no stack's runner takes these jobs.
    url = redis_url.rsplit("/", 1)[0] + "/7"
    Redis.from_url(url).flushdb()
    services = build_services(
        Settings.from_env(
            {
                "IMAGEGEN_DATA_DIR": str(tmp_path),
                "IMAGEGEN_MODEL_LIFECYCLE": EVERY_MODEL_ACTIVE,
                "IMAGEGEN_REDIS_URL": url,
                "IMAGEGEN_REQUEUE_AFTER_SECONDS": str(REQUEUE_AFTER_SECONDS),
            }
        )
    )
    yield services
    services.redis.flushdb()


def _queued(svc: Services) -> list[str]:
    return [
        job_id.decode()
        for name in QUEUE_NAMES
        for job_id in svc.redis.lrange(f"rq:queue:{name}", 0, -1)
    ]


def _taken_long_after_acceptance(svc: Services) -> str:
    """A job accepted a minute ago, then taken off its queue (it waited in a line since)."""
    job = submit_generation(svc, CALLER, parse_request({"prompt": "a fox"}), None)
    minute_ago = utc_timestamp(datetime.now(UTC) - timedelta(seconds=60))
    assert svc.repository.mark_queued(job.job_id, minute_ago, "waiting")
    for name in QUEUE_NAMES:
        svc.redis.delete(f"rq:queue:{name}")
    return job.job_id


def _rq_record(svc: Services, job_id: str, status: str, started_ago: float) -> None:
    started = datetime.now(UTC) - timedelta(seconds=started_ago)
    svc.redis.hset(
        RqJob.key_for(job_id), mapping={"status": status, "started_at": utcformat(started)}
    )


def test_a_job_just_taken_from_a_line_is_not_queued_again(svc):
    job_id = _taken_long_after_acceptance(svc)
    _rq_record(svc, job_id, "started", started_ago=0.1)
    Sweeper(svc).sweep()
    assert _queued(svc) == []


def test_a_job_waiting_in_a_line_is_not_queued_again(svc):
    job_id = _taken_long_after_acceptance(svc)
    _rq_record(svc, job_id, "deferred", started_ago=60)
    Sweeper(svc).sweep()
    assert _queued(svc) == []


def test_a_job_started_long_ago_and_still_pending_is_queued_again(svc):
    """Its runner died before the job started: the database is the record, so it runs."""
    job_id = _taken_long_after_acceptance(svc)
    _rq_record(svc, job_id, "started", started_ago=REQUEUE_AFTER_SECONDS + 1)
    Sweeper(svc).sweep()
    assert _queued(svc) == [job_id]


def test_a_job_redis_lost_is_queued_again(svc):
    job_id = _taken_long_after_acceptance(svc)
    svc.redis.delete(RqJob.key_for(job_id))
    Sweeper(svc).sweep()
    assert _queued(svc) == [job_id]

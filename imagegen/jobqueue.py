"""The job queues (RQ on Redis) and the completion signal a synchronous request waits on.

Each priority, 1 to 10, has its own RQ queue; runners (worker.runner) take from them
highest first, from the first non-empty queue in that order, so a priority-9 job waits only
for jobs of priority 9 and 10, however many lower ones are queued.

Queue payloads carry the job id only; parameters live in the job record and images in the
blob store, so nothing large or sensitive sits in Redis. Redis is not the record of what
was accepted: the database is, and the worker's sweeper puts back what Redis loses.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job as RqJob
from rq.job import JobStatus
from rq.utils import as_text

from imagegen.records import MAX_PRIORITY, MIN_PRIORITY

log = logging.getLogger(__name__)

# What a queued job's RQ record names as its function. Runners (worker.runner) take jobs off
# these queues themselves and run every one as a generation, so the name is a label for RQ's
# tools, not code the core points at; it is deliberately not importable, so a plain
# `rq worker` fails such a job instead of running it outside the runner's lease and run
# table (the sweeper then queues it again for a runner).
GENERATION_JOB = "imagegen-generation"
# The longest single blocking read a synchronous wait makes: well under the Redis client's
# socket timeout (services.REDIS_SOCKET_TIMEOUT_SECONDS), however long the wait itself is.
WAIT_SLICE_SECONDS = 1.0
_DONE_KEY = "imagegen:job-done:{job_id}"
_DONE_TTL_SECONDS = 600
# Set when a job is cancelled; the model budgets' parked lines read it too (imagegen.quota).
CANCEL_KEY_PREFIX = "imagegen:job-cancelled:"
_CANCEL_KEY = CANCEL_KEY_PREFIX + "{job_id}"
_CANCEL_TTL_SECONDS = 3600
# RQ states of a job that is going to run. Not "started": a job the database still calls
# pending after the sweeper's wait was never started by its run (the worker died first), and
# queueing a pending job again is always safe, as only one run can start it.
_WAITING = frozenset({JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED})


def queue_name(priority: int) -> str:
    return f"imagegen-p{priority:02d}"


# Highest priority first: the order workers listen in.
QUEUE_NAMES = [queue_name(p) for p in range(MAX_PRIORITY, MIN_PRIORITY - 1, -1)]


_RUNNER_KEY = "imagegen:runner:{name}"


@dataclass(frozen=True)
class RunnerStatus:
    """What a live runner last said about itself (worker.runner's heartbeat)."""

    name: str
    pid: int
    slots: int
    busy: int


class JobQueue:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._queues = {name: Queue(name, connection=redis) for name in QUEUE_NAMES}

    def enqueue_generation(self, job_id: str, request_id: str, priority: int) -> None:
        self.enqueue_generations([(job_id, request_id, priority)])

    def enqueue_generations(self, jobs: list[tuple[str, str, int]]) -> None:
        """Queue jobs, each (job id, request id, priority), in one round trip to Redis: RQ
        alone sends each job as two pipelines (the queue's registration, SADD rq:queues,
        then the job's hash and the queue push), each waiting for Redis's answer. One
        transaction (MULTI/EXEC): Redis takes all of them or, failing, none."""
        with self._redis.pipeline() as pipe:
            for job_id, request_id, priority in jobs:
                self._queues[queue_name(priority)].enqueue_call(
                    GENERATION_JOB,
                    args=(job_id,),
                    job_id=job_id,
                    # No time limit of RQ's: a job may wait for its model's quota until its
                    # deadline (IMAGEGEN_JOB_DEADLINE_SECONDS); each model call has its own.
                    timeout=-1,
                    result_ttl=3600,
                    failure_ttl=7 * 24 * 3600,
                    meta={"request_id": request_id},
                    pipeline=pipe,
                )
            pipe.execute()

    def mark_parked(self, job_id: str) -> None:
        """The job left its queue to wait for its model's turn (quota.ProviderBudget.park):
        RQ's record says deferred, one of the states `waiting_job_ids` counts as waiting."""
        self._redis.hset(RqJob.key_for(job_id), "status", JobStatus.DEFERRED.value)

    def waiting_job_ids(self, job_ids: list[str]) -> set[str]:
        """Those of the given jobs that Redis holds on a queue, waiting to run."""
        found = RqJob.fetch_many(job_ids, connection=self._redis)
        return {
            job.id for job in found if job is not None and job.get_status(refresh=False) in _WAITING
        }

    def wait_until_finished(self, job_id: str, timeout_seconds: float) -> bool:
        """Block until the worker signals the job finished; False when the wait ran out, or
        when Redis failed meanwhile (the job is recorded either way: the caller answers from
        the record, and the client can poll it)."""
        key = _DONE_KEY.format(job_id=job_id)
        deadline = time.monotonic() + timeout_seconds
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                # One BLPOP per slice: a single long one outlives the client's socket
                # timeout, and redis-py then fails the wait with a TimeoutError.
                # Never 0, which Redis reads as "block forever".
                wait = max(min(remaining, WAIT_SLICE_SECONDS), 0.01)
                popped = self._redis.blpop([key], timeout=wait)
                if popped is not None:
                    # Put the signal back for any other waiter on the same job.
                    with self._redis.pipeline() as pipe:
                        pipe.rpush(key, "1")
                        pipe.expire(key, _DONE_TTL_SECONDS)
                        pipe.execute()
                    return True
        except RedisError:
            log.warning("lost Redis while waiting for a job", extra={"job_id": job_id})
        return False

    def signal_cancelled(self, job_id: str) -> None:
        """Tell a run of the job, if one is running, to stop now. The database holds the
        cancel itself; this only saves the run from waiting for its next write to learn it."""
        self._redis.set(_CANCEL_KEY.format(job_id=job_id), "1", ex=_CANCEL_TTL_SECONDS)

    def is_cancelled(self, job_id: str) -> bool:
        try:
            return bool(self._redis.exists(_CANCEL_KEY.format(job_id=job_id)))
        except RedisError:
            return False  # the run's lease renewal still finds the cancel in the database

    def signal_finished(self, job_id: str) -> None:
        key = _DONE_KEY.format(job_id=job_id)
        with self._redis.pipeline() as pipe:
            pipe.rpush(key, "1")
            pipe.expire(key, _DONE_TTL_SECONDS)
            pipe.execute()

    def runner_alive(self, status: RunnerStatus, ttl_seconds: float) -> None:
        """Record a runner's heartbeat; it drops out of `runners` once ttl_seconds pass
        without another."""
        self._redis.set(
            _RUNNER_KEY.format(name=status.name),
            f"{status.pid} {status.slots} {status.busy}",
            px=int(ttl_seconds * 1000),
        )

    def runners(self) -> list[RunnerStatus]:
        """Every runner that gave a heartbeat within its time to live, in any container."""
        keys = list(self._redis.scan_iter(match=_RUNNER_KEY.format(name="*"), count=1000))
        if not keys:
            return []
        found = []
        for key, value in zip(keys, self._redis.mget(keys), strict=True):
            if value is None:
                continue  # expired between the scan and the read
            pid, slots, busy = (int(part) for part in value.split())
            name = as_text(key).rsplit(":", 1)[1]
            found.append(RunnerStatus(name, pid, slots, busy))
        return found

    def runner_gone(self, name: str) -> None:
        """Forget a runner that stopped cleanly, before its heartbeat would have expired."""
        self._redis.delete(_RUNNER_KEY.format(name=name))

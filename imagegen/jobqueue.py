"""The job queue (RQ on Redis) and the completion signal a synchronous request waits on.

Queue payloads carry the job id only; parameters live in the job record and images in the
blob store, so nothing large or sensitive sits in Redis.
"""

from __future__ import annotations

from redis import Redis
from rq import Queue

QUEUE_NAME = "imagegen"
GENERATION_FUNCTION = "worker.jobs.run_generation"
_DONE_KEY = "imagegen:job-done:{job_id}"
_DONE_TTL_SECONDS = 600


class JobQueue:
    def __init__(self, redis: Redis, job_timeout_seconds: int) -> None:
        self._redis = redis
        self._queue = Queue(QUEUE_NAME, connection=redis)
        self._job_timeout = job_timeout_seconds

    def enqueue_generation(self, job_id: str, request_id: str) -> None:
        self._queue.enqueue_call(
            GENERATION_FUNCTION,
            args=(job_id,),
            job_id=job_id,
            timeout=self._job_timeout,
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
            meta={"request_id": request_id},
        )

    def wait_until_finished(self, job_id: str, timeout_seconds: float) -> bool:
        """Block until the worker signals the job finished; False when the wait ran out."""
        if timeout_seconds <= 0:
            return False
        key = _DONE_KEY.format(job_id=job_id)
        popped = self._redis.blpop([key], timeout=timeout_seconds)
        if popped is not None:
            # Put the signal back for any other waiter on the same job.
            self._redis.rpush(key, "1")
            self._redis.expire(key, _DONE_TTL_SECONDS)
        return popped is not None

    def signal_finished(self, job_id: str) -> None:
        key = _DONE_KEY.format(job_id=job_id)
        with self._redis.pipeline() as pipe:
            pipe.rpush(key, "1")
            pipe.expire(key, _DONE_TTL_SECONDS)
            pipe.execute()

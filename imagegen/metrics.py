"""Queue and job metrics for CloudWatch: what the worker service scales on and alarms watch.

QueueDepth is the work outstanding (queued jobs + jobs the live runners are running, from
their heartbeats); divided by the number of worker tasks it is the backlog per task that
autoscaling tracks. Job outcomes are counted in Redis
by whichever worker ran the job and published as deltas, so several publishers (one per
worker task) never count a job twice.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import Queue

from imagegen.jobqueue import QUEUE_NAMES, JobQueue

log = logging.getLogger(__name__)

OUTCOMES = ("completed", "failed")
_OUTCOME_KEY = "imagegen:metrics:jobs-{outcome}"
_METRIC_NAMES = {"completed": "JobsCompleted", "failed": "JobsFailed"}


def record_outcome(redis: Redis, outcome: str) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    redis.incr(_OUTCOME_KEY.format(outcome=outcome))


class MetricsPublisher:
    def __init__(self, redis: Redis, cloudwatch: Any, namespace: str) -> None:
        self._redis = redis
        self._queues = [Queue(name, connection=redis) for name in QUEUE_NAMES]
        self._job_queue = JobQueue(redis)
        self._cloudwatch = cloudwatch
        self._namespace = namespace

    def collect(self, now: datetime | None = None) -> list[dict[str, Any]]:
        now = now or datetime.now(UTC)
        depth = sum(queue.count for queue in self._queues) + sum(
            runner.busy for runner in self._job_queue.runners()
        )
        data = [
            {"MetricName": "QueueDepth", "Value": depth, "Unit": "Count"},
            {
                "MetricName": "OldestJobAgeSeconds",
                "Value": self._oldest_age(now),
                "Unit": "Seconds",
            },
        ]
        with self._redis.pipeline() as pipe:
            for outcome in OUTCOMES:
                pipe.getdel(_OUTCOME_KEY.format(outcome=outcome))
            counts = pipe.execute()
        for outcome, count in zip(OUTCOMES, counts, strict=True):
            data.append(
                {"MetricName": _METRIC_NAMES[outcome], "Value": int(count or 0), "Unit": "Count"}
            )
        for item in data:
            item["Timestamp"] = now
        return data

    def _oldest_age(self, now: datetime) -> float:
        """Seconds the longest-waiting job at the head of a queue has waited (0 when none)."""
        oldest = 0.0
        for queue in self._queues:
            job_ids = queue.get_job_ids(0, 1)
            job = queue.fetch_job(job_ids[0]) if job_ids else None
            if job is None or job.enqueued_at is None:
                continue
            enqueued = job.enqueued_at.replace(tzinfo=job.enqueued_at.tzinfo or UTC)
            oldest = max(oldest, (now - enqueued).total_seconds())
        return oldest

    def publish(self) -> None:
        self._cloudwatch.put_metric_data(Namespace=self._namespace, MetricData=self.collect())

    def run(self, interval_seconds: float, stop: threading.Event) -> None:
        """Publish every interval until stopped; a failed publish is logged, not fatal."""
        while not stop.wait(interval_seconds):
            try:
                self.publish()
            except Exception:
                log.exception("publishing queue metrics failed")

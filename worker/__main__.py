"""Worker entry point: `python -m worker` runs IMAGEGEN_WORKER_CONCURRENCY RQ workers.

RQ's WorkerPool supervises the worker processes (restarting any that die); each worker
forks a work horse per job, so a crashing job cannot take the worker down.
"""

from __future__ import annotations

import logging
import threading

import boto3
from redis import Redis
from rq.worker_pool import WorkerPool

from imagegen import logs
from imagegen.config import Settings
from imagegen.jobqueue import QUEUE_NAME
from imagegen.metrics import MetricsPublisher
from worker import jobs


def main() -> None:
    settings = Settings.from_env()
    logs.configure("worker", settings.log_level)
    # Build the adapters (database schema, boto3 client) once here; worker processes and
    # their work horses inherit them instead of rebuilding them for every job.
    jobs.warm_up()
    logging.getLogger(__name__).info(
        "worker pool starting", extra={"concurrency": settings.worker_concurrency}
    )
    if settings.metrics_namespace:
        _start_metrics_publisher(settings)
    pool = WorkerPool(
        [QUEUE_NAME],
        connection=Redis.from_url(settings.redis_url),
        num_workers=settings.worker_concurrency,
    )
    pool.start(burst=False, logging_level=settings.log_level)


def _start_metrics_publisher(settings: Settings) -> None:
    """Publish queue metrics from a thread of this (supervising) process.

    Worker processes are forked from the main thread only, so they do not inherit it.
    """
    publisher = MetricsPublisher(
        Redis.from_url(settings.redis_url),
        boto3.client("cloudwatch", region_name=settings.aws_region),
        settings.metrics_namespace,
    )
    thread = threading.Thread(
        target=publisher.run,
        args=(settings.metrics_interval_seconds, threading.Event()),
        name="metrics-publisher",
        daemon=True,
    )
    thread.start()


if __name__ == "__main__":
    main()

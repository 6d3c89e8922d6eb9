"""Queue metrics published to CloudWatch (moto's server), as the worker autoscaling reads them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from redis import Redis
from rq import Queue

from imagegen.jobqueue import JobQueue, RunnerStatus, queue_name
from imagegen.metrics import MetricsPublisher, record_outcome


@pytest.fixture
def isolated_redis(redis_url: str):
    # Database 15: the running worker consumes the queue in database 0.
    redis = Redis.from_url(redis_url.rsplit("/", 1)[0] + "/15")
    redis.flushdb()
    yield redis
    redis.flushdb()


def test_queue_depth_oldest_age_and_outcomes_reach_cloudwatch(isolated_redis, moto_endpoint):
    # Depth and age count every priority's queue.
    for index, priority in enumerate((1, 5, 10)):
        queue = Queue(queue_name(priority), connection=isolated_redis)
        queue.enqueue_call("worker.jobs.run_generation", args=(f"job_{index}",))
    record_outcome(isolated_redis, "completed")
    record_outcome(isolated_redis, "completed")
    record_outcome(isolated_redis, "failed")
    cloudwatch = boto3.client(
        "cloudwatch",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    publisher = MetricsPublisher(isolated_redis, cloudwatch, "ImageGen/test")

    later = datetime.now(UTC) + timedelta(seconds=30)
    data = {item["MetricName"]: item["Value"] for item in publisher.collect(now=later)}
    assert data["QueueDepth"] == 3
    assert 29 <= data["OldestJobAgeSeconds"] <= 40
    assert (data["JobsCompleted"], data["JobsFailed"]) == (2, 1)
    # Outcomes are deltas: a second collection does not count them again.
    again = {item["MetricName"]: item["Value"] for item in publisher.collect()}
    assert (again["JobsCompleted"], again["JobsFailed"]) == (0, 0)

    record_outcome(isolated_redis, "failed")
    publisher.publish()
    stats = cloudwatch.get_metric_statistics(
        Namespace="ImageGen/test",
        MetricName="QueueDepth",
        StartTime=datetime.now(UTC) - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum"],
    )
    assert [point["Maximum"] for point in stats["Datapoints"]] == [3.0]
    names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace="ImageGen/test")["Metrics"]}
    assert names == {"QueueDepth", "OldestJobAgeSeconds", "JobsCompleted", "JobsFailed"}


def test_jobs_live_runners_run_count_in_the_depth_until_their_heartbeat_expires(isolated_redis):
    Queue(queue_name(3), connection=isolated_redis).enqueue_call(
        "worker.jobs.run_generation", args=("job_queued",)
    )
    jobs = JobQueue(isolated_redis)
    jobs.runner_alive(RunnerStatus("runner-a", 101, slots=64, busy=5), ttl_seconds=30)
    jobs.runner_alive(RunnerStatus("runner-b", 102, slots=64, busy=7), ttl_seconds=0.3)
    publisher = MetricsPublisher(isolated_redis, cloudwatch=None, namespace="unused")

    depth = {item["MetricName"]: item["Value"] for item in publisher.collect()}["QueueDepth"]
    assert depth == 1 + 5 + 7
    assert {runner.name for runner in jobs.runners()} == {"runner-a", "runner-b"}

    time.sleep(0.5)  # runner-b stopped saying it is alive
    depth = {item["MetricName"]: item["Value"] for item in publisher.collect()}["QueueDepth"]
    assert depth == 1 + 5
    assert jobs.runners() == [RunnerStatus("runner-a", 101, slots=64, busy=5)]


def test_a_runner_that_stops_cleanly_leaves_the_depth_at_once(isolated_redis):
    jobs = JobQueue(isolated_redis)
    jobs.runner_alive(RunnerStatus("runner-a", 101, slots=64, busy=3), ttl_seconds=30)
    jobs.runner_alive(RunnerStatus("runner-b", 102, slots=64, busy=4), ttl_seconds=30)
    publisher = MetricsPublisher(isolated_redis, cloudwatch=None, namespace="unused")

    jobs.runner_gone("runner-a")

    depth = {item["MetricName"]: item["Value"] for item in publisher.collect()}["QueueDepth"]
    assert depth == 4
    assert jobs.runners() == [RunnerStatus("runner-b", 102, slots=64, busy=4)]


def test_an_empty_queue_has_no_age(isolated_redis):
    publisher = MetricsPublisher(isolated_redis, cloudwatch=None, namespace="unused")
    data = {item["MetricName"]: item["Value"] for item in publisher.collect()}
    assert data["QueueDepth"] == 0
    assert data["OldestJobAgeSeconds"] == 0.0


def test_unknown_outcomes_are_refused(isolated_redis):
    with pytest.raises(ValueError):
        record_outcome(isolated_redis, "maybe")

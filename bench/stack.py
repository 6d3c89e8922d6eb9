"""The whole service on this machine for a benchmark: a fresh Redis, the local model
endpoint, one worker container and the API, and an API key for them."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from redis import Redis

from imagegen.jobqueue import JobQueue
from localrun import (
    GUNICORN,
    PYTHON,
    free_port,
    service_env,
    start_localbedrock,
    start_process,
    wait_until,
)


@dataclass(frozen=True)
class BenchStack:
    base_url: str
    model_endpoint: str
    headers: dict[str, str]  # the API key's
    model_log: Path  # localbedrock's log: one JSON line per call, its status and error
    worker_pids: list[int]  # the main process of each worker container

    def model_calls(self) -> list[dict[str, Any]]:
        """Every call the endpoint answered, from its log (its /_local/requests keeps only
        the last 500): request id, time answered, model, status, error type, latency."""
        lines = self.model_log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.startswith('{"request_id"')]

    def run_async_jobs(self, model: str, prompts: list[str]) -> list[str]:
        """Submit one async n=1 job per prompt at once; their final statuses, once all ended."""
        session = requests.Session()
        session.headers.update(self.headers)
        job_ids = [
            session.post(
                f"{self.base_url}/v1/images/generations",
                json={"prompt": prompt, "model": model, "async": True},
                timeout=30,
            ).json()["job_id"]
            for prompt in prompts
        ]
        # Poll the listing of unfinished jobs (a page per hundred) and read each job alone
        # only once it has left it, rather than GET every job on every pass: polling each of
        # hundreds of jobs twice a second spends much of these two cores on the API and
        # skews what the benchmarks measure.
        outcomes: dict[str, str] = {}
        while len(outcomes) < len(job_ids):
            time.sleep(0.5)
            unfinished = {
                item["job"]["job_id"]
                for status in ("pending", "processing")
                for item in self._jobs_with_status(session, status)
            }
            for job_id in job_ids:
                if job_id not in outcomes and job_id not in unfinished:
                    job = session.get(f"{self.base_url}/v1/jobs/{job_id}", timeout=30).json()
                    status = job["job"]["status"]["status"]
                    if status in ("completed", "failed", "cancelled"):
                        outcomes[job_id] = status
        return list(outcomes.values())

    def _jobs_with_status(self, session: requests.Session, status: str) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            params = {"status": status, "limit": "100"} | ({"cursor": cursor} if cursor else {})
            page = session.get(f"{self.base_url}/v1/jobs", params=params, timeout=30).json()
            yield from page["jobs"]
            cursor = page["next_cursor"]
            if cursor is None:
                return


def told_quota(model: str, configured: int | None) -> dict[str, str]:
    """Settings of a worker container with the default 64 slots (the tests' settings use 2)
    that is told `configured` calls a minute for `model`, or nothing (None: it learns)."""
    return {
        "IMAGEGEN_WORKER_CONCURRENCY": "64",
        "IMAGEGEN_BEDROCK_QUOTAS": "" if configured is None else f"{model}={configured}",
        "IMAGEGEN_BEDROCK_DEFAULT_RPM": "",
        "IMAGEGEN_BEDROCK_READ_TIMEOUT_SECONDS": "30",
        "IMAGEGEN_JOB_DEADLINE_SECONDS": "3600",
    }


@contextmanager
def local_stack(
    model_env: dict[str, str], settings: dict[str, str], workers: int = 1
) -> Iterator[BenchStack]:
    """model_env configures localbedrock; settings override the tests' service settings;
    workers is how many worker containers (processes started as the container starts)."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    redis_port = free_port()
    redis = start_process(
        ["redis-server", "--port", str(redis_port), "--save", ""], {}, workdir / "redis.log"
    )
    endpoint, localbedrock = start_localbedrock(workdir, model_env)
    api_port = free_port()
    env = service_env(workdir, f"redis://127.0.0.1:{redis_port}/0", endpoint, api_port)
    env.update(settings)
    worker_processes = [
        start_process([PYTHON, "-m", "worker"], env, workdir / f"worker-{index}.log")
        for index in range(workers)
    ]
    api = start_process(
        [GUNICORN, "-c", "gunicorn.conf.py", "app.wsgi:app"], env, workdir / "api.log"
    )
    base = f"http://127.0.0.1:{api_port}"
    try:
        wait_until(lambda: requests.get(f"{base}/healthz", timeout=1).ok, what="the API")
        # Every container's runner up before any job is sent: the benchmarks measure the
        # fleet at work, not its processes importing their libraries.
        runners = JobQueue(Redis.from_url(f"redis://127.0.0.1:{redis_port}/0"))
        wait_until(lambda: len(runners.runners()) == workers, 60, "the workers' runners")
        from imagegen import keys
        from imagegen.storage.sqlite import SqliteRepository

        key = keys.create_key(SqliteRepository(workdir / "imagegen.sqlite3"), "bench", "bench")
        yield BenchStack(
            base,
            endpoint,
            {"Authorization": f"Bearer {key}"},
            localbedrock.log_path,
            [process.popen.pid for process in worker_processes],
        )
    finally:
        for process in (api, *worker_processes, localbedrock, redis):
            process.stop()

"""Benchmark: does n=10 take about as long as n=1?

Starts Redis, the local model endpoint with a fixed per-call latency (like a real model's),
the worker and the API, then times synchronous generations of n=1 and n=10 on SDXL (one image
per call, so n=10 means ten calls). Run: .venv/bin/python -m bench.concurrency
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import requests

from tests.conftest import (
    GUNICORN,
    PYTHON,
    free_port,
    service_env,
    start_localbedrock,
    start_process,
    wait_until,
)

MODEL_LATENCY_MS = 2000
RUNS = 3


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    redis_port = free_port()
    redis = start_process(
        ["redis-server", "--port", str(redis_port), "--save", ""], {}, workdir / "redis.log"
    )
    endpoint, localbedrock = start_localbedrock(
        workdir, {"LOCALBEDROCK_LATENCY_MS": str(MODEL_LATENCY_MS)}
    )
    api_port = free_port()
    env = service_env(workdir, f"redis://127.0.0.1:{redis_port}/0", endpoint, api_port)
    env["IMAGEGEN_BEDROCK_READ_TIMEOUT_SECONDS"] = "30"
    worker = start_process([PYTHON, "-m", "worker"], env, workdir / "worker.log")
    api = start_process(
        [GUNICORN, "-c", "gunicorn.conf.py", "app.wsgi:app"], env, workdir / "api.log"
    )
    base = f"http://127.0.0.1:{api_port}"
    try:
        wait_until(lambda: requests.get(f"{base}/healthz", timeout=1).ok, what="the API")
        from imagegen import keys
        from imagegen.storage.sqlite import SqliteRepository

        key = keys.create_key(SqliteRepository(workdir / "imagegen.sqlite3"), "bench", "bench")
        headers = {"Authorization": f"Bearer {key}"}
        print(f"model latency per call: {MODEL_LATENCY_MS} ms; {RUNS} runs each")
        print("| n | median s | min s | max s |")
        print("|---|---|---|---|")
        for n in (1, 10):
            times = []
            for run in range(RUNS):
                body = {
                    "prompt": f"bench {n} {run}",
                    "model": "stability.stable-diffusion-xl-v1",
                    "n": n,
                }
                started = time.perf_counter()
                response = requests.post(
                    f"{base}/v1/images/generations", json=body, headers=headers, timeout=120
                )
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
                assert len(response.json()["images"]) == n
            print(f"| {n} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} |")
    finally:
        for process in (api, worker, localbedrock, redis):
            process.stop()


if __name__ == "__main__":
    main()

"""Benchmark: does n=10 take about as long as n=1?

Starts Redis, the local model endpoint with a fixed per-call latency (like a real model's),
the worker and the API, then times synchronous generations of n=1 and n=10 on SDXL (one image
per call, so n=10 means ten calls). Run: .venv/bin/python -m bench.concurrency
"""

from __future__ import annotations

import statistics
import time

import requests

from bench.stack import local_stack

MODEL_LATENCY_MS = 2000
RUNS = 3


def main() -> None:
    model_env = {"LOCALBEDROCK_LATENCY_MS": str(MODEL_LATENCY_MS)}
    with local_stack(model_env, {"IMAGEGEN_BEDROCK_READ_TIMEOUT_SECONDS": "30"}) as stack:
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
                    f"{stack.base_url}/v1/images/generations",
                    json=body,
                    headers=stack.headers,
                    timeout=120,
                )
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
                assert len(response.json()["images"]) == n
            print(f"| {n} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} |")


if __name__ == "__main__":
    main()

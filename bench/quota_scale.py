"""Benchmark: worker containers scale throughput until the model's quota, then hold it.

For 1, 2 and 4 worker containers (processes started as the container starts, each with
SLOTS job slots) against one model whose quota is QUOTA calls a minute, both the
endpoint's (LOCALBEDROCK_RPM) and the one the service is told: JOBS async n=1 jobs at
once, and the images a second until every one has finished. One container alone makes
SLOTS / latency calls a second, below the quota, so two should double it and four reach the
quota and stay there.
Run: .venv/bin/python -m bench.quota_scale
"""

from __future__ import annotations

from datetime import datetime

import requests

from bench.stack import local_stack

SDXL = "stability.stable-diffusion-xl-v1"
QUOTA = 600  # calls a minute: 10 a second
LATENCY_MS = 500
SLOTS = 2  # per container: 4 calls a second at most
JOBS = 160


def run(containers: int) -> dict[str, float]:
    model_env = {"LOCALBEDROCK_LATENCY_MS": str(LATENCY_MS), "LOCALBEDROCK_RPM": str(QUOTA)}
    settings = {
        "IMAGEGEN_WORKER_CONCURRENCY": str(SLOTS),
        "IMAGEGEN_BEDROCK_QUOTAS": f"{SDXL}={QUOTA}",
        "IMAGEGEN_BEDROCK_READ_TIMEOUT_SECONDS": "30",
        "IMAGEGEN_JOB_DEADLINE_SECONDS": "3600",
    }
    with local_stack(model_env, settings, workers=containers) as stack:
        outcomes = stack.run_async_jobs(SDXL, [f"scale {i}" for i in range(JOBS)])
        calls = requests.get(f"{stack.model_endpoint}/_local/requests", timeout=10).json()
        calls = calls["requests"]
        assert len(calls) < 500, "the endpoint keeps the last 500 calls: fewer jobs"
        admitted = sorted(datetime.fromisoformat(c["time"]) for c in calls if c["status"] == 200)
        span = (admitted[-1] - admitted[0]).total_seconds()
        return {
            "completed": outcomes.count("completed"),
            "failed": len(outcomes) - outcomes.count("completed"),
            # Admitted calls a second from the first to the last: submitting is not counted.
            "per_second": (len(admitted) - 1) / span,
            "throttled": len(calls) - len(admitted),
            "calls": len(calls),
        }


def main() -> None:
    print(f"{JOBS} async n=1 {SDXL} jobs; quota {QUOTA}/min; latency {LATENCY_MS} ms;")
    print(f"{SLOTS} slots per container")
    print("| containers | completed | failed | calls/s | vs linear | vs quota | throttled |")
    print("|---|---|---|---|---|---|---|")
    single = 0.0
    for containers in (1, 2, 4):
        r = run(containers)
        single = single or r["per_second"]
        linear = min(containers * single, QUOTA / 60)
        print(
            f"| {containers} | {r['completed']:.0f} | {r['failed']:.0f} | {r['per_second']:.2f} "
            f"| {r['per_second'] / linear:.0%} | {r['per_second'] / (QUOTA / 60):.0%} "
            f"| {r['throttled']:.0f} of {r['calls']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

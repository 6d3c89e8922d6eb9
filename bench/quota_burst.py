"""Benchmark: a burst of jobs against a model quota loses nothing and uses the quota.

For each scenario: a fresh Redis, the local model endpoint admitting QUOTA calls a minute
(LOCALBEDROCK_RPM, a rolling minute, beyond which it answers ThrottlingException, as
Bedrock does) at a fixed latency, one worker container with its default slots (64) and the
API; then JOBS async n=1 SDXL jobs at once, and the time until every one has finished.
Scenarios: the service told the real quota; told five times too much (it must learn it);
told nothing (it learns from LEARNING_START_RPM).
Run: .venv/bin/python -m bench.quota_burst
"""

from __future__ import annotations

import time

from bench.stack import local_stack, told_quota
from imagegen.quota import LEARNING_START_RPM

SDXL = "stability.stable-diffusion-xl-v1"
QUOTA = 120  # calls a minute
LATENCY_MS = 500
JOBS = 300
SCENARIOS: dict[str, int | None] = {
    "told the quota": QUOTA,
    "told 5x the quota": 5 * QUOTA,
    "told nothing": None,
}


def run(configured: int | None) -> dict[str, float]:
    model_env = {"LOCALBEDROCK_LATENCY_MS": str(LATENCY_MS), "LOCALBEDROCK_RPM": str(QUOTA)}
    settings = {
        **told_quota(SDXL, configured),
        "IMAGEGEN_BEDROCK_BACKOFF_BASE_SECONDS": "0.5",
        "IMAGEGEN_BEDROCK_BACKOFF_CAP_SECONDS": "8",
    }
    with local_stack(model_env, settings) as stack:
        started = time.monotonic()
        outcomes = stack.run_async_jobs(SDXL, [f"burst {i}" for i in range(JOBS)])
        wall = time.monotonic() - started
        calls = stack.model_calls()
        throttled = sum(1 for c in calls if c["error_type"] == "ThrottlingException")
        return {
            "completed": outcomes.count("completed"),
            "failed": len(outcomes) - outcomes.count("completed"),
            "wall_s": wall,
            "calls": len(calls),
            "throttled": throttled,
        }


def main() -> None:
    ideal = JOBS / QUOTA * 60
    print(f"{JOBS} async n=1 {SDXL} jobs; endpoint quota {QUOTA}/min, latency {LATENCY_MS} ms;")
    print(f"ideal wall time at the quota: {ideal:.0f} s (jobs / quota)")
    print(f"a budget told nothing starts at {LEARNING_START_RPM:.0f}/min")
    print("| scenario | completed | failed | wall s | quota used | calls | throttled |")
    print("|---|---|---|---|---|---|---|")
    for name, configured in SCENARIOS.items():
        r = run(configured)
        print(
            f"| {name} ({'unset' if configured is None else f'{configured}/min'}) | {r['completed']:.0f} | {r['failed']:.0f} "
            f"| {r['wall_s']:.1f} | {ideal / r['wall_s']:.0%} | {r['calls']:.0f} "
            f"| {r['throttled']:.0f} ({r['throttled'] / r['calls']:.1%}) |",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Benchmark: what a worker task costs per image, against what the model charges per image.

A worker task is busy for as long as its calls wait on the model, so at steady load the
images one task makes in an hour are limited by one of two things:
- calls in flight: C calls at once, each taking the model's latency L, make C / L images a
  second. C is measured here as bench.inflight measures it (one worker container with the
  Terraform's worker_concurrency slots, jobs against the local endpoint at 2 s, peak calls
  in flight counted at the endpoint).
- CPU: each image costs the worker post-processing CPU (decode, verify, thumbnail, store,
  record). It is measured here as bench.postprocess measures it (the whole per-image
  pipeline on one thread, process CPU per image), for the stand-in's PNGs and for
  photo-like ones; a task of V vCPUs post-processes at most V / (CPU s per image) a second.
The task-hour's price is the Fargate price of the Terraform's worker task (Linux/x86,
us-east-1 on-demand; 1 vCPU, 2 GiB), divided by the images an hour at the lower of the two
limits, for model latencies of 5, 10 and 20 s, and compared with each catalogued model's
price for one standard 1024x1024 image (imagegen.catalog, from AWS's Bedrock pricing).
Not counted: the API tasks, Redis (ElastiCache), the load balancer, S3 and DynamoDB; they
scale with requests rather than with how long a model takes.
Run: .venv/bin/python -m bench.cost
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench import inflight, postprocess
from imagegen import catalog
from imagegen.config import Settings
from imagegen.services import build_services

# Fargate on-demand, Linux/x86, US East (N. Virginia): per vCPU-hour and per GB-hour.
FARGATE_VCPU_HOUR_USD = 0.04048
FARGATE_GB_HOUR_USD = 0.004445
# The Terraform's worker task (infra/modules/stack variables worker_cpu, worker_memory,
# worker_concurrency).
TASK_VCPU = 1.0
TASK_MEMORY_GB = 2.0
TASK_SLOTS = 64
LATENCIES_S = (5.0, 10.0, 20.0)
GOAL_SHARE = 0.001  # infrastructure <= 0.1 % of the model's price


def calls_in_flight() -> float:
    """Peak calls in flight of one worker container with TASK_SLOTS slots (bench.inflight)."""
    return inflight.run(TASK_SLOTS)["peak"]


def cpu_seconds_per_image() -> dict[str, float]:
    """Process CPU per image of the worker's post-processing on one thread, per input."""
    with tempfile.TemporaryDirectory(prefix="imagegen-bench-") as data_dir:
        svc = build_services(Settings.from_env({"IMAGEGEN_DATA_DIR": str(Path(data_dir))}))
        measured = {}
        for name, photo_like in postprocess.INPUTS.items():
            responses = [
                postprocess.model_response(svc.settings, i, photo_like)
                for i in range(postprocess.PARALLEL_IMAGES)
            ]
            postprocess.run_pipeline(svc, responses[: postprocess.WARM_UP], 1)
            runs = sorted(
                postprocess.run_pipeline(svc, responses, 1)[1] for _ in range(postprocess.REPEATS)
            )
            measured[name] = runs[len(runs) // 2] / len(responses)
        return measured


def model_prices() -> dict[str, float]:
    """Each catalogued model's price of one standard 1024x1024 image, in USD."""
    return {
        model_id: spec.price_per_image(1024, 1024, premium=False)
        for model_id, spec in catalog.MODELS.items()
    }


def main() -> None:
    task_hour = TASK_VCPU * FARGATE_VCPU_HOUR_USD + TASK_MEMORY_GB * FARGATE_GB_HOUR_USD
    in_flight = calls_in_flight()
    cpu = cpu_seconds_per_image()
    prices = model_prices()
    cheapest = min(prices.values())
    print(
        f"worker task: {TASK_VCPU:g} vCPU x ${FARGATE_VCPU_HOUR_USD} + {TASK_MEMORY_GB:g} GB x "
        f"${FARGATE_GB_HOUR_USD} = ${task_hour:.5f} an hour"
    )
    print(f"measured: {in_flight:.0f} calls in flight with {TASK_SLOTS} slots (bench.inflight)")
    for name, seconds in cpu.items():
        print(
            f"measured: {seconds * 1000:.1f} ms post-processing CPU per image ({name}): at most "
            f"{TASK_VCPU / seconds:.1f} images/s per task"
        )
    print()
    print(
        "| latency s | input | calls-bound images/s | CPU-bound images/s | images an hour "
        f"| infra $ per image | vs cheapest model (${cheapest}) | vs goal |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for latency in LATENCIES_S:
        for name, seconds in cpu.items():
            calls_bound = in_flight / latency
            cpu_bound = TASK_VCPU / seconds
            per_hour = 3600 * min(calls_bound, cpu_bound)
            per_image = task_hour / per_hour
            share = per_image / cheapest
            print(
                f"| {latency:g} | {name} | {calls_bound:.1f} | {cpu_bound:.1f} "
                f"| {per_hour:,.0f} | {per_image:.7f} | {share:.3%} "
                f"| {'met' if share <= GOAL_SHARE else 'NOT met'} |"
            )
    print()
    worst = task_hour / (3600 * min(in_flight / max(LATENCIES_S), TASK_VCPU / max(cpu.values())))
    print("| model | $ per 1024x1024 image | infra share at 20 s, photo-like |")
    print("|---|---|---|")
    for model_id, price in prices.items():
        print(f"| {model_id} | {price} | {worst / price:.4%} |", flush=True)


if __name__ == "__main__":
    main()

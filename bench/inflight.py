"""Benchmark: how many model calls one worker container holds in flight, and at what memory.

One worker container (started as the container starts: python -m worker) with SLOTS job
slots, against the local model endpoint answering every call after LATENCY_MS (a slow
model; no quota on either side, so only the worker limits concurrency). JOBS async n=1
SDXL jobs (1024x1024 PNGs) are submitted at once. Measured:
- peak calls in flight at the endpoint, from its call log (each call's start and end);
- images a second from the first call's start to the last call's end, against the ideal
  min(SLOTS, JOBS) / latency;
- memory of the worker container's process tree (supervisor, runner, maintenance), sampled
  every 0.2 s: peak of the summed RSS (counts pages shared after fork once per process, an
  upper bound) and of the summed PSS (shares them out: what the container really uses).
Run: .venv/bin/python -m bench.inflight
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import requests

from bench.stack import local_stack

SDXL = "stability.stable-diffusion-xl-v1"
LATENCY_MS = 2000
JOBS = 128
SLOT_COUNTS = (16, 64, 128)


def _tree(root: int) -> list[int]:
    """root and its live descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found, todo = [root], [root]
    while todo:
        parent = todo.pop()
        for pid, ppid in parents.items():
            if ppid == parent:
                found.append(pid)
                todo.append(pid)
    return found


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; (0, 0) once it is gone."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return 0, 0
    fields = {line.split(":")[0]: line.split()[1] for line in lines[1:]}
    return int(fields["Rss"]), int(fields["Pss"])


class MemorySampler(threading.Thread):
    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self._root = root
        self._done = threading.Event()
        self.peak_rss_kib = 0
        self.peak_pss_kib = 0
        self.processes = 0

    def run(self) -> None:
        while not self._done.wait(0.2):
            pids = _tree(self._root)
            usage = [_memory_kib(pid) for pid in pids]
            self.processes = max(self.processes, len(pids))
            self.peak_rss_kib = max(self.peak_rss_kib, sum(rss for rss, _ in usage))
            self.peak_pss_kib = max(self.peak_pss_kib, sum(pss for _, pss in usage))

    def stop(self) -> None:
        self._done.set()
        self.join()


def run(slots: int) -> dict[str, float]:
    model_env = {"LOCALBEDROCK_LATENCY_MS": str(LATENCY_MS)}
    settings = {
        "IMAGEGEN_WORKER_CONCURRENCY": str(slots),
        # Far above what the endpoint is asked for: the budget must not be what limits.
        "IMAGEGEN_BEDROCK_QUOTAS": f"{SDXL}=100000",
        "IMAGEGEN_BEDROCK_READ_TIMEOUT_SECONDS": "60",
    }
    with local_stack(model_env, settings) as stack:
        sampler = MemorySampler(stack.worker_pids[0])
        sampler.start()
        outcomes = stack.run_async_jobs(SDXL, [f"in flight {i}" for i in range(JOBS)])
        sampler.stop()
        calls = requests.get(f"{stack.model_endpoint}/_local/requests", timeout=10).json()
        spans = []
        for call in calls["requests"]:
            end = datetime.fromisoformat(call["time"])
            spans.append((end - timedelta(milliseconds=call["latency_ms"]), end))
        edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
        in_flight = peak = 0
        for _, step in edges:
            in_flight += step
            peak = max(peak, in_flight)
        span = (max(end for _, end in spans) - min(start for start, _ in spans)).total_seconds()
        return {
            "completed": outcomes.count("completed"),
            "calls": len(spans),
            "peak": peak,
            "per_second": len(spans) / span,
            "ideal": min(slots, JOBS) / (LATENCY_MS / 1000),
            "rss_mib": sampler.peak_rss_kib / 1024,
            "pss_mib": sampler.peak_pss_kib / 1024,
            "processes": sampler.processes,
        }


def main() -> None:
    print(f"{JOBS} async n=1 {SDXL} jobs (1024x1024) at once; model latency {LATENCY_MS} ms;")
    print("one worker container")
    print(
        "| slots | completed | peak calls in flight | images/s | ideal | vs ideal "
        "| processes | peak RSS MiB (sum) | peak PSS MiB (sum) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for slots in SLOT_COUNTS:
        r = run(slots)
        print(
            f"| {slots} | {r['completed']:.0f} of {JOBS} | {r['peak']:.0f} "
            f"| {r['per_second']:.1f} | {r['ideal']:.1f} | {r['per_second'] / r['ideal']:.0%} "
            f"| {r['processes']:.0f} | {r['rss_mib']:.0f} | {r['pss_mib']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

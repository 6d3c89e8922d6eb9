"""Benchmark: the async submit path against a hello-world Flask POST route (issue 15).

One run, side by side under the same gunicorn settings (gunicorn.conf.py, its worker
app.server.BufferingWorker, the same environment): a hello-world Flask app with one POST
route (bench.hello_app) and the real API on the local default backend (SQLite and files in
a fresh data directory, a redis-server of its own with run-local.sh's persistence,
`--appendonly yes`). Two real API keys, of two tenants: one whose rate limits are set far
above what the run sends (both limits are checked, and counted in Redis, on every request;
none refuses), one with no limits set (the local default: nothing is checked). No worker
runs, so nothing takes the queued jobs: the submit path is what is measured, and each 202
is a job recorded in SQLite and enqueued on RQ (checked at the end: the pending jobs
recorded, the RQ queues' length, and the 202s counted).

1. Peak: wrk, 2 threads, 32 connections, 10 s, a Lua script POSTing the same JSON body with
   the Authorization header, after a 3 s warm-up: the hello-world route, then the API with
   each key.
2. Latency at half of each key's peak: bench.paced sends requests at a fixed rate over 32
   keep-alive connections for 10 s and measures each from when it was due (no coordinated
   omission); Debian has no wrk2.
CPU seconds are counted for each part: the server's processes, Redis, the load generator
and everything else on the machine (anything else running skews the numbers).

Run: make bench-submit (or .venv/bin/python -m bench.submit_path; wrk must be installed).
--profile DIR also records py-spy profiles (of the thread holding the GIL) of the API's
workers during the limited key's wrk run (`.venv/bin/pip install py-spy`; needs root).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from redis import Redis, RedisError

from bench.paced import PacedResult, http_request, paced_load, percentile
from imagegen.jobqueue import QUEUE_NAMES
from localrun import GUNICORN, Process, free_port, start_process, wait_until

THREADS = 2
CONNECTIONS = 32
DURATION_S = 10
WARMUP_S = 3
TENANT = "bench"
# Far above what a 10 s run can send, so the limits are checked and never refuse.
HIGH_LIMIT = 100_000_000
BODY = json.dumps({"prompt": "a lighthouse on a cliff at dusk, oil painting", "async": True})
SUBMIT_PATH = "/v1/images/generations"
HELLO_PATH = "/hello"

# wrk's script: the request, and its statistics as one JSON line at the end (latencies in
# microseconds), so nothing is parsed from its human-readable report.
_WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = {authorization}

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50": %d, "p90": %d, "p99": %d, "max": %d}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


_TICK = os.sysconf("SC_CLK_TCK")


def _process_cpu_s(pid: int, system_only: bool = False) -> float:
    """User and system (or system only) CPU seconds of one process so far (0 once gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[12]) + (0 if system_only else int(fields[11]))) / _TICK


def _machine_busy_s() -> float:
    """CPU seconds all processors spent not idle so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / _TICK


@dataclass(frozen=True)
class Cpu:
    """CPU seconds spent during one run, by whom."""

    server: float  # the gunicorn master and its workers
    server_system: float  # of which in the kernel
    redis: float
    load: float  # the load generator (wrk, or this process for the paced run)
    others: float  # everything else on the machine: other people's work skews the run

    def line(self, seconds: float, requests: int) -> str:
        per_request = self.server / requests * 1000 if requests else float("nan")
        return (
            f"CPU s over {seconds:.0f} s on {os.cpu_count()} cores: server {self.server:.1f} "
            f"({per_request:.2f} ms a request, {self.server_system / self.server:.0%} in the "
            f"kernel), redis {self.redis:.1f}, load generator "
            f"{self.load:.1f}, other processes {self.others:.1f}"
        )


class CpuMeter:
    def __init__(self, server: int, redis: int) -> None:
        self._server = server
        self._redis = redis

    def _server_s(self, system_only: bool = False) -> float:
        pids = [self._server, *_worker_pids(self._server)]
        return sum(_process_cpu_s(pid, system_only) for pid in pids)

    def start(self) -> None:
        self._at = (
            self._server_s(),
            self._server_s(system_only=True),
            _process_cpu_s(self._redis),
            _machine_busy_s(),
        )
        self._self_at = time.process_time()

    def stop(self, load_s: float | None = None) -> Cpu:
        server0, system0, redis0, busy0 = self._at
        server = self._server_s() - server0
        system = self._server_s(system_only=True) - system0
        redis = _process_cpu_s(self._redis) - redis0
        load = time.process_time() - self._self_at if load_s is None else load_s
        busy = _machine_busy_s() - busy0
        return Cpu(server, system, redis, load, max(busy - server - redis - load, 0.0))


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    errors: int  # socket errors and answers of status 400 or more
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    cpu: Cpu


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII text is a valid Lua string literal


def run_wrk(url: str, script: Path, seconds: int, meter: CpuMeter) -> WrkResult:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is missing: make bench-submit installs it (apt-get install wrk)")
    meter.start()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(
            [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script), url],
            stdout=out,
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        cpu = meter.stop(usage.ru_utime + usage.ru_stime)
        if process.returncode:
            raise RuntimeError(f"wrk failed ({process.returncode})")
        out.seek(0)
        text = out.read()
    line = next(line for line in text.splitlines() if line.startswith("RESULT "))
    stats = json.loads(line.removeprefix("RESULT "))
    errors = sum(stats[k] for k in ("connect", "read", "write", "status", "timeout"))
    return WrkResult(
        requests=stats["requests"],
        rps=stats["requests"] / (stats["duration_us"] / 1e6),
        errors=errors,
        p50_ms=stats["p50"] / 1000,
        p90_ms=stats["p90"] / 1000,
        p99_ms=stats["p99"] / 1000,
        max_ms=stats["max"] / 1000,
        cpu=cpu,
    )


def _env(workdir: Path, redis_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "IMAGEGEN_DATA_DIR": str(workdir / "data"),
        "IMAGEGEN_REDIS_URL": redis_url,
        "IMAGEGEN_BIND": f"127.0.0.1:{port}",
        "IMAGEGEN_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        # No model is called: no worker runs. boto3 wants some credentials all the same.
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
    }


def _gunicorn(app: str, env: dict[str, str], log: Path) -> Process:
    return start_process([GUNICORN, "-c", "gunicorn.conf.py", app], env, log)


def _worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def _profile(master: int, out_dir: Path, seconds: int) -> list[subprocess.Popen[bytes]]:
    """py-spy record of each gunicorn worker of `master` for `seconds` (needs root), of the
    thread holding the GIL only: what the process's one core of Python is spent on."""
    py_spy = shutil.which("py-spy") or str(Path(GUNICORN).with_name("py-spy"))
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(seconds),
                "--rate",
                "250",
                "--nonblocking",
                # Only the thread holding the GIL: where each process spends its one core.
                "--gil",
                "--format",
                fmt,
                "--output",
                str(out_dir / f"worker-{pid}.{ext}"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in _worker_pids(master)
        for fmt, ext in (("flamegraph", "svg"), ("raw", "txt"))
    ]


def _redis_up(url: str) -> bool:
    try:
        return bool(Redis.from_url(url).ping())
    except RedisError:
        return False


@dataclass(frozen=True)
class Variant:
    """One tenant of the run, and what was measured with its key."""

    name: str
    key: str
    peak: WrkResult
    paced: PacedResult
    paced_cpu: Cpu


def _start_redis(workdir: Path, port: int) -> Process:
    # As scripts/run-local.sh runs it for the local stack: no snapshots, an append-only file.
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir)]
    return start_process([*args, "--save", "", "--appendonly", "yes"], {}, workdir / "redis.log")


def _script(workdir: Path, name: str, authorization: str) -> Path:
    script = workdir / f"{name}.lua"
    script.write_text(
        _WRK_SCRIPT.format(body=_lua_string(BODY), authorization=_lua_string(authorization))
    )
    return script


def _paced(port: int, authorization: str, rate: float, seconds: int) -> PacedResult:
    headers = {"Content-Type": "application/json", "Authorization": authorization}
    request = http_request("POST", "127.0.0.1", port, SUBMIT_PATH, headers, BODY.encode())
    return paced_load("127.0.0.1", port, request, rate, seconds, CONNECTIONS)


def _print_paced(variant: Variant, seconds: int) -> None:
    paced = variant.paced
    print(
        f"{variant.name}: paced at {paced.rate:,.0f}/s (half its peak) for {seconds} s over "
        f"{CONNECTIONS} connections: {len(paced.latencies_ms)} answered "
        f"({paced.achieved_rate:,.0f}/s), statuses {dict(paced.statuses)}, "
        f"{paced.errors} connection errors"
    )
    print(
        f"  latency from the due time: p50 {paced.percentile(50):.2f} ms, "
        f"p90 {paced.percentile(90):.2f} ms, **p99 {paced.percentile(99):.2f} ms** "
        f"(target <= 25 ms), p99.9 {paced.percentile(99.9):.2f} ms, "
        f"max {max(paced.latencies_ms):.1f} ms"
    )
    print(
        f"  the load generator's own lateness: p99 {percentile(paced.lateness_ms, 99):.2f} ms, "
        f"max {max(paced.lateness_ms):.2f} ms"
    )
    print(f"  {variant.paced_cpu.line(seconds, len(paced.latencies_ms))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", type=Path, help="write py-spy profiles of the API here")
    parser.add_argument("--duration", type=int, default=DURATION_S)
    options = parser.parse_args()
    seconds = options.duration

    from imagegen import keys
    from imagegen.records import TenantLimits
    from imagegen.storage.sqlite import SqliteRepository

    workdir = Path(tempfile.mkdtemp(prefix="bench-submit-"))
    redis_port, hello_port, api_port = free_port(), free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    processes: list[Process] = []
    try:
        redis = _start_redis(workdir, redis_port)
        processes.append(redis)
        wait_until(lambda: _redis_up(redis_url), what="redis")
        repository = SqliteRepository(workdir / "data" / "imagegen.sqlite3")
        # Two tenants: one whose limits are set (far above the run: checked on every
        # request, never refusing), one with none set (the local default: no limit).
        limited = keys.create_key(repository, TENANT, "bench-user")
        repository.put_tenant_limits(
            TenantLimits(TENANT, requests_per_minute=HIGH_LIMIT, images_per_minute=HIGH_LIMIT)
        )
        unlimited = keys.create_key(repository, TENANT + "-unlimited", "bench-user")
        hello = _gunicorn(
            "bench.hello_app:app", _env(workdir / "hello", redis_url, hello_port), workdir / "h.log"
        )
        api = _gunicorn("app.wsgi:app", _env(workdir, redis_url, api_port), workdir / "api.log")
        processes += [hello, api]
        hello_url = f"http://127.0.0.1:{hello_port}{HELLO_PATH}"
        api_url = f"http://127.0.0.1:{api_port}{SUBMIT_PATH}"
        wait_until(lambda: requests.post(hello_url, timeout=1).ok, 30, "the hello-world app")
        wait_until(
            lambda: requests.get(f"http://127.0.0.1:{api_port}/healthz", timeout=1).ok,
            30,
            "the API",
        )
        for key in (limited, unlimited):
            check = requests.post(
                api_url,
                data=BODY,
                timeout=5,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            assert check.status_code == 202, check.text

        workers = os.environ.get("GUNICORN_WORKERS", "2")
        threads = os.environ.get("GUNICORN_THREADS", "32")
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
        print(f"gunicorn.conf.py: {workers} workers x {threads} threads, BufferingWorker")
        print(f"wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s, POST of {len(BODY)} B of JSON")
        hello_meter = CpuMeter(hello.popen.pid, redis.popen.pid)
        api_meter = CpuMeter(api.popen.pid, redis.popen.pid)
        hello_script = _script(workdir, "hello", "Bearer " + limited)
        run_wrk(hello_url, hello_script, WARMUP_S, hello_meter)
        reference = run_wrk(hello_url, hello_script, seconds, hello_meter)

        variants = []
        for name, key in (("limits set", limited), ("limits unset", unlimited)):
            script = _script(workdir, name.replace(" ", "-"), "Bearer " + key)
            run_wrk(api_url, script, WARMUP_S, api_meter)
            profilers = []
            if options.profile and key == limited:
                profilers = _profile(api.popen.pid, options.profile, seconds)
            peak = run_wrk(api_url, script, seconds, api_meter)
            for profiler in profilers:
                profiler.wait()
            time.sleep(1)
            api_meter.start()
            paced = _paced(api_port, "Bearer " + key, peak.rps / 2, seconds)
            variants.append(Variant(name, key, peak, paced, api_meter.stop()))
            time.sleep(1)

        time.sleep(0.5)
        with sqlite3.connect(workdir / "data" / "imagegen.sqlite3") as db:
            recorded = db.execute("SELECT COUNT(*) FROM jobs WHERE status = 'pending'").fetchone()
        queued = sum(Redis.from_url(redis_url).llen(f"rq:queue:{q}") for q in QUEUE_NAMES)

        print()
        print("| server | wrk rps | vs hello-world | p50 ms | p90 ms | p99 ms | max ms | errors |")
        print("|---|---|---|---|---|---|---|---|")
        rows = [("hello-world POST", reference)]
        rows += [(f"POST {SUBMIT_PATH} async, {v.name}", v.peak) for v in variants]
        for name, r in rows:
            print(
                f"| {name} | {r.rps:,.0f} | {r.rps / reference.rps:.1%} | {r.p50_ms:.2f} "
                f"| {r.p90_ms:.2f} | {r.p99_ms:.2f} | {r.max_ms:.1f} | {r.errors} |"
            )
        print()
        for name, r in rows:
            print(f"{name}: {r.cpu.line(seconds, r.requests)}")
        print()
        for variant in variants:
            _print_paced(variant, seconds)
        answered = sum(
            1 + v.peak.requests - v.peak.errors + v.paced.statuses.get(202, 0) for v in variants
        )
        print(
            f"jobs recorded (pending) in SQLite: {recorded[0]}, on the RQ queues: {queued}; "
            f"202s counted: at least {answered} (wrk's warm-ups are not counted)"
        )
        busy = [r.cpu.others for _, r in rows] + [v.paced_cpu.others for v in variants]
        late = [percentile(v.paced.lateness_ms, 99) for v in variants]
        if max(busy) > 1.0 or max(late) > 5.0:
            print(
                f"WARNING: other processes used up to {max(busy):.1f} CPU s of a part and the "
                f"load generator ran up to {max(late):.1f} ms late (p99): this run is skewed"
            )
        if options.profile:
            print(f"profiles: {options.profile}")
    finally:
        for process in reversed(processes):
            process.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

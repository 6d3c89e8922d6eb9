"""Runs the local stack's processes on loopback ports of their own: redis-server, the local
model endpoint (localbedrock), the RQ worker and the API under gunicorn.

The test suite (tests/conftest.py) and the benchmarks (bench/stack.py) both start the
service this way; neither imports the other. Not part of the service itself, so it is not
installed in the image (pyproject's package list), as tests/ and bench/ are not.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _distinct_free_ports(count: int) -> tuple[int, ...]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:  # all held open at once, so no two are the same port
            sock.bind(("127.0.0.1", 0))
        return tuple(sock.getsockname()[1] for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()


# The webhook allowlist names ports, not hosts, so the stack's lists these (as 127.0.0.1 and
# localhost), picked before any stack starts: the session receiver's, one nothing listens on
# and one for a test's own receiver. Every other loopback port stays refused.
WEBHOOK_RECEIVER_PORT, WEBHOOK_CLOSED_PORT, WEBHOOK_SPARE_PORT = _distinct_free_ports(3)


def wait_until(check: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (requests.ConnectionError, OSError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start_process(args: list[str], env: dict[str, str], log_path: Path) -> Process:
    handle = open(log_path, "wb")  # noqa: SIM115 - the child writes to it for its whole life
    popen = subprocess.Popen(args, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)
    handle.close()
    return Process(popen, log_path)


def start_localbedrock(
    workdir: Path, extra_env: dict[str, str] | None = None
) -> tuple[str, Process]:
    port = free_port()
    env = {**os.environ, "LOCALBEDROCK_SLOW_SECONDS": "4", **(extra_env or {})}
    process = start_process(
        [PYTHON, "-m", "localbedrock", "--host", "127.0.0.1", "--port", str(port)],
        env,
        workdir / f"localbedrock-{port}.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: requests.get(f"{url}/_local/health", timeout=1).ok, what="localbedrock")
    return url, process


# localbedrock serves every model, as an account that kept access to retired ones would: the
# tests declare that access, so every model's request and response code stays under test.
EVERY_MODEL_ACTIVE = ",".join(
    f"{model_id}=ACTIVE"
    for model_id in (
        "stability.stable-diffusion-xl-v1",
        "amazon.titan-image-generator-v1",
        "amazon.titan-image-generator-v2:0",
        "amazon.nova-canvas-v1:0",
    )
)


def service_env(data_dir: Path, redis_url: str, endpoint: str, api_port: int) -> dict[str, str]:
    """The API's and worker's environment as the tests run them (benchmarks override some)."""
    return {
        **os.environ,
        "IMAGEGEN_MODEL_LIFECYCLE": EVERY_MODEL_ACTIVE,
        "IMAGEGEN_DATA_DIR": str(data_dir),
        "IMAGEGEN_REDIS_URL": redis_url,
        "IMAGEGEN_BIND": f"127.0.0.1:{api_port}",
        "IMAGEGEN_PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
        "IMAGEGEN_SYNC_WAIT_SECONDS": "20",
        "IMAGEGEN_WORKER_CONCURRENCY": "2",
        "IMAGEGEN_BEDROCK_MAX_ATTEMPTS": "3",
        "IMAGEGEN_BEDROCK_BACKOFF_BASE_SECONDS": "0.05",
        "IMAGEGEN_BEDROCK_READ_TIMEOUT_SECONDS": "2",
        # A budget far above what the tests call, so it paces nothing until a test throttles;
        # a deadline no test job comes near (tests/integration/test_quota.py tests it).
        "IMAGEGEN_BEDROCK_DEFAULT_RPM": "6000",
        "IMAGEGEN_JOB_DEADLINE_SECONDS": "60",
        "GUNICORN_WORKERS": "1",
        # Small image limits, so the tests can reach them with small files.
        "IMAGEGEN_MAX_IMAGE_BYTES": str(4 * 1024 * 1024),
        "IMAGEGEN_MAX_IMAGE_REQUEST_BYTES": str(12 * 1024 * 1024),
        "IMAGEGEN_MAX_IMAGE_PIXELS": "20000000",
        # Short leases, sweeps and webhook backoff, so recovery and retries happen in seconds.
        "IMAGEGEN_JOB_LEASE_SECONDS": "3",
        "IMAGEGEN_SWEEP_INTERVAL_SECONDS": "0.5",
        "IMAGEGEN_REQUEUE_AFTER_SECONDS": "2",
        "IMAGEGEN_WEBHOOK_ALLOWED_HOSTS": ",".join(
            f"{host}:{port}"
            for host in ("127.0.0.1", "localhost")
            for port in (WEBHOOK_RECEIVER_PORT, WEBHOOK_CLOSED_PORT, WEBHOOK_SPARE_PORT)
        ),
        "IMAGEGEN_WEBHOOK_MAX_ATTEMPTS": "4",
        "IMAGEGEN_WEBHOOK_BACKOFF_BASE_SECONDS": "0.2",
        "IMAGEGEN_WEBHOOK_BACKOFF_CAP_SECONDS": "1",
        "IMAGEGEN_WEBHOOK_TIMEOUT_SECONDS": "2",
        "IMAGEGEN_WEBHOOK_POLL_SECONDS": "0.1",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": endpoint,
        # localbedrock is the stack's control plane too: the lifecycles are asked of it.
        "AWS_ENDPOINT_URL_BEDROCK": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
    }

"""Fixtures that run the real parts: redis-server, the local model endpoint, the RQ worker
process and the API under gunicorn, all on loopback ports of their own."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = shutil.which("redis-server")
    assert server, "redis-server must be installed (apt-get install redis-server)"
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = start_process(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)],
        dict(os.environ),
        workdir / "redis.log",
    )

    def ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    wait_until(ping, what="redis-server")
    yield f"redis://127.0.0.1:{port}/0"
    process.stop()


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


@pytest.fixture(scope="session")
def model_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # Some latency, as a real model has, so that concurrent calls visibly overlap.
    url, process = start_localbedrock(
        tmp_path_factory.mktemp("localbedrock"), {"LOCALBEDROCK_LATENCY_MS": "300"}
    )
    yield url
    process.stop()


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's server: a local stand-in for AWS APIs (CloudWatch, DynamoDB, S3, KMS) over
    real HTTP, answering one request at a time (tests/moto_server.py says why)."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("moto")
    process = start_process(
        [PYTHON, "-m", "tests.moto_server", "-H", "127.0.0.1", "-p", str(port)],
        dict(os.environ),
        workdir / "moto.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: requests.get(f"{url}/moto-api/", timeout=1).ok, what="moto_server")
    yield url
    process.stop()


@pytest.fixture(scope="session")
def data_layer(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The DynamoDB table and S3 bucket `terraform apply` of infra/modules/data creates, on
    moto's server, once per session: its outputs (table_name, bucket_name, ...)."""
    from tests.aws.terraform_data import apply_data_module

    return apply_data_module(moto_endpoint, tmp_path_factory.mktemp("terraform"), "test")


@dataclass
class Stack:
    """A running API + worker sharing one data directory, Redis and model endpoint."""

    base_url: str
    model_endpoint: str
    data_dir: Path
    env: dict[str, str]
    api: Process
    worker: Process


def service_env(data_dir: Path, redis_url: str, endpoint: str, api_port: int) -> dict[str, str]:
    return {
        **os.environ,
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
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
    }


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, model_endpoint: str
) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("data")
    api_port = free_port()
    env = service_env(data_dir, redis_url, model_endpoint, api_port)
    yield from run_stack(data_dir, env, api_port, model_endpoint)


def run_stack(
    data_dir: Path, env: dict[str, str], api_port: int, model_endpoint: str
) -> Iterator[Stack]:
    """Start a worker and the API with env, yield them once the API answers, then stop."""
    worker = start_process([PYTHON, "-m", "worker"], env, data_dir / "worker.log")
    api = start_process(
        [GUNICORN, "-c", "gunicorn.conf.py", "app.wsgi:app"], env, data_dir / "api.log"
    )
    base_url = f"http://127.0.0.1:{api_port}"
    wait_until(lambda: requests.get(f"{base_url}/healthz", timeout=1).ok, what="the API")
    yield Stack(base_url, model_endpoint, data_dir, env, api, worker)
    api.stop()
    worker.stop()


def run_own_stack(
    workdir: Path,
    redis_url: str,
    redis_db: int,
    model_env: dict[str, str],
    settings: dict[str, str],
) -> Iterator[Stack]:
    """A stack with its own localbedrock (model_env) and Redis database, so the shared
    stack's worker never takes its jobs; settings override service_env's."""
    endpoint, model = start_localbedrock(workdir, model_env)
    api_port = free_port()
    env = service_env(workdir, f"{redis_url.rsplit('/', 1)[0]}/{redis_db}", endpoint, api_port)
    env.update(settings)
    try:
        yield from run_stack(workdir, env, api_port, endpoint)
    finally:
        model.stop()


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    user_id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def make_tenant(stack: Stack, tenant_id: str, user_id: str) -> Tenant:
    from imagegen import keys
    from imagegen.storage.sqlite import SqliteRepository

    repo = SqliteRepository(stack.data_dir / "imagegen.sqlite3")
    return Tenant(tenant_id, user_id, keys.create_key(repo, tenant_id, user_id))


@pytest.fixture(scope="session")
def tenant(stack: Stack) -> Tenant:
    return make_tenant(stack, "tenant-a", "alice")


@pytest.fixture(scope="session")
def other_tenant(stack: Stack) -> Tenant:
    return make_tenant(stack, "tenant-b", "bob")

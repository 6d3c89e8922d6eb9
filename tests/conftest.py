"""Fixtures that run the real parts: redis-server, the local model endpoint, the RQ worker
process and the API under gunicorn, all on loopback ports of their own (started with
localrun's helpers, which the benchmarks share)."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from localrun import (
    GUNICORN,
    PYTHON,
    Process,
    free_port,
    service_env,
    start_localbedrock,
    start_process,
    wait_until,
)

# Test modules import these from here too.
from localrun import ROOT as ROOT
from localrun import WEBHOOK_CLOSED_PORT as WEBHOOK_CLOSED_PORT
from localrun import WEBHOOK_RECEIVER_PORT as WEBHOOK_RECEIVER_PORT
from localrun import WEBHOOK_SPARE_PORT as WEBHOOK_SPARE_PORT


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

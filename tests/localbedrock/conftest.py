"""Fixtures: localbedrock endpoints run as real subprocesses, reached with real boto3 clients."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Endpoint:
    """A running ``python -m localbedrock`` and ways to talk to it."""

    url: str
    log_path: Path

    def local(self, method: str, path: str) -> Any:
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    def recorded(self) -> list[dict[str, Any]]:
        return self.local("GET", "/_local/requests")["requests"]

    def client(self, **config: Any) -> Any:
        """A bedrock-runtime client; no retries unless ``retries=`` says otherwise."""
        options: dict[str, Any] = {
            "retries": {"total_max_attempts": 1},
            "connect_timeout": 5,
            "read_timeout": 30,
            **config,
        }
        return boto3.client(
            "bedrock-runtime",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=Config(**options),
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(endpoint: Endpoint, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"localbedrock exited early:\n{endpoint.log_path.read_text()}")
        try:
            if endpoint.local("GET", "/_local/health") == {"status": "ok"}:
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"localbedrock did not become healthy:\n{endpoint.log_path.read_text()}")


@contextmanager
def run_endpoint(log_dir: Path, env: dict[str, str]) -> Iterator[Endpoint]:
    """Start the endpoint with ``env`` added to a LOCALBEDROCK_-free environment."""
    port = _free_port()
    log_path = log_dir / f"localbedrock-{port}.log"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALBEDROCK_")}
    child_env.update(env)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "localbedrock", "--port", str(port)],
            cwd=REPO_ROOT,
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    endpoint = Endpoint(f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_healthy(endpoint, process)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def start_endpoint(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[dict[str, str]], Endpoint]]:
    """``start_endpoint(env)``: run another endpoint (until the session ends) with ``env``."""
    with ExitStack() as stack:

        def start(env: dict[str, str]) -> Endpoint:
            log_dir = tmp_path_factory.mktemp("localbedrock")
            return stack.enter_context(run_endpoint(log_dir, env))

        yield start


@pytest.fixture(scope="session")
def endpoint(start_endpoint: Callable[[dict[str, str]], Endpoint]) -> Endpoint:
    """Default settings, except a 1 s slow trigger so timeout tests stay short."""
    return start_endpoint({"LOCALBEDROCK_SLOW_SECONDS": "1"})


@pytest.fixture(scope="session")
def client(endpoint: Endpoint) -> Any:
    return endpoint.client(max_pool_connections=20)


def _body_for(model_id: str, prompt: str, seed: int | None = None) -> dict[str, Any]:
    if model_id.startswith("stability.stable-diffusion-xl"):
        body: dict[str, Any] = {"text_prompts": [{"text": prompt}]}
    elif model_id.startswith("stability."):
        body = {"prompt": prompt}
    else:
        body = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": prompt}}
        if seed is not None:
            body["imageGenerationConfig"] = {"seed": seed}
        return body
    if seed is not None:
        body["seed"] = seed
    return body


def _decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


@pytest.fixture(scope="session")
def body_for() -> Callable[..., dict[str, Any]]:
    """``body_for(model_id, prompt, seed=None)``: the smallest valid text-to-image body."""
    return _body_for


@pytest.fixture(scope="session")
def decode() -> Callable[[str], Image.Image]:
    """Decode a base64 image from a response, fully loaded (so corrupt data fails here)."""
    return _decode


@pytest.fixture
def invoke(client: Any) -> Callable[..., dict[str, Any]]:
    """Call InvokeModel and return the parsed JSON body."""

    def call(model_id: str, body: Any) -> dict[str, Any]:
        response = client.invoke_model(
            modelId=model_id,
            body=json.dumps(body),
            contentType="application/json",
            accept="application/json",
        )
        assert response["contentType"] == "application/json"
        return json.loads(response["body"].read())

    return call


@pytest.fixture
def invoke_error(client: Any) -> Callable[..., ClientError]:
    """Call InvokeModel expecting error ``code`` (and ``fragment`` in its message)."""

    def call(model_id: str, body: Any, code: str, fragment: str = "") -> ClientError:
        with pytest.raises(ClientError) as caught:
            client.invoke_model(modelId=model_id, body=json.dumps(body))
        error = caught.value.response["Error"]
        assert error["Code"] == code, error
        assert fragment in error["Message"], error
        return caught.value

    return call

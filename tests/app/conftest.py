"""The HTTP layer in-process, with the Flask testing tutorial's fixtures: `app`, built by
create_app on a SQLite file and blob directory of the test's own and a Redis database that
no worker reads, and `client`, its test client. No gunicorn and no worker, so a route's own
logic answers in milliseconds; a job stays pending, as nothing takes it off the queue.

A test module changes settings by overriding the `app_env` fixture.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image as PILImage
from werkzeug.test import TestResponse

from app import create_app
from imagegen import keys
from imagegen.config import Settings
from imagegen.services import Services, build_services
from localrun import EVERY_MODEL_ACTIVE

# tests/conftest.py's stacks use databases 0 and 11-15 of the suite's redis-server.
REDIS_DB = 10
# Small limits, so a test reaches them with small bodies.
MAX_REQUEST_BYTES = 16 * 1024
MAX_IMAGE_BYTES = 64 * 1024
MAX_IMAGE_REQUEST_BYTES = 256 * 1024
GENERATED_REQUEST_ID = re.compile(r"req_[0-9a-f]{32}")


@pytest.fixture
def app_env() -> dict[str, str]:
    """Settings of this module's app, over the defaults below."""
    return {}


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, app_env: dict[str, str]) -> Settings:
    return Settings.from_env(
        {
            "IMAGEGEN_DATA_DIR": str(tmp_path / "data"),
            "IMAGEGEN_REDIS_URL": f"{redis_url.rsplit('/', 1)[0]}/{REDIS_DB}",
            "IMAGEGEN_PUBLIC_BASE_URL": "http://api.test",
            "IMAGEGEN_MODEL_LIFECYCLE": EVERY_MODEL_ACTIVE,
            # No worker finishes a job here: a synchronous request answers 202 at once.
            "IMAGEGEN_SYNC_WAIT_SECONDS": "0",
            "IMAGEGEN_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES),
            "IMAGEGEN_MAX_IMAGE_BYTES": str(MAX_IMAGE_BYTES),
            "IMAGEGEN_MAX_IMAGE_REQUEST_BYTES": str(MAX_IMAGE_REQUEST_BYTES),
            **app_env,
        }
    )


@pytest.fixture
def services(settings: Settings) -> Services:
    return build_services(settings)


@pytest.fixture
def app(settings: Settings, services: Services) -> Flask:
    app = create_app(settings, services)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def create_api_key(services: Services, tenant_id: str, user_id: str = "user-1") -> str:
    """A new API key of tenant_id's user, as `python -m imagegen.cli create-key` makes one."""
    return keys.create_key(services.repository, tenant_id, user_id)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def auth(services: Services) -> dict[str, str]:
    """Request headers of tenant-a's key."""
    return bearer(create_api_key(services, "tenant-a", "alice"))


@pytest.fixture
def other_auth(services: Services) -> dict[str, str]:
    """Request headers of tenant-b's key."""
    return bearer(create_api_key(services, "tenant-b", "bob"))


def assert_error(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """The error envelope of the contract, with this status and code; its `error` part."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "status", "request_id"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert body["status"] == status
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def png(size: tuple[int, int] = (64, 64), color: str = "teal") -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")

from __future__ import annotations

import pytest

from imagegen import healthcheck
from tests.conftest import free_port


def test_worker_role_is_healthy_when_redis_answers(monkeypatch, redis_url):
    monkeypatch.setenv("IMAGEGEN_ROLE", "worker")
    monkeypatch.setenv("IMAGEGEN_REDIS_URL", redis_url)
    assert healthcheck.main() == 0
    monkeypatch.setenv("IMAGEGEN_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    assert healthcheck.main() == 1


@pytest.mark.parametrize("up", [True, False])
def test_api_role_checks_healthz(monkeypatch, stack, up):
    port = stack.base_url.rsplit(":", 1)[1] if up else str(free_port())
    monkeypatch.setenv("IMAGEGEN_ROLE", "api")
    monkeypatch.setenv("IMAGEGEN_BIND", f"0.0.0.0:{port}")
    assert healthcheck.main() == (0 if up else 1)

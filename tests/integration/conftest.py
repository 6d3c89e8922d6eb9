"""Helpers for talking to the running API and checking answers against the OpenAPI document."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from tests.conftest import ROOT, Stack, Tenant
from tests.integration.webhook_receiver import receiver  # noqa: F401 - a fixture


def openapi_for(stack: Stack) -> OpenAPI:
    """The OpenAPI document, served from the stack's address, to check answers against."""
    document = yaml.safe_load((ROOT / "app" / "openapi.yaml").read_text(encoding="utf-8"))
    document["servers"] = [{"url": stack.base_url}]
    return OpenAPI.from_dict(document)


@pytest.fixture(scope="session")
def openapi(stack: Stack) -> OpenAPI:
    return openapi_for(stack)


class Api:
    """A requests session for one tenant; every answer is checked against the OpenAPI document."""

    def __init__(self, stack: Stack, tenant: Tenant | None, openapi: OpenAPI) -> None:
        self.stack = stack
        self.session = requests.Session()
        if tenant is not None:
            self.session.headers.update(tenant.headers)
        self._openapi = openapi

    def request(
        self, method: str, path: str, documented: bool = True, **kwargs: Any
    ) -> requests.Response:
        """documented=False for routes the document rightly lacks (unknown paths, methods)."""
        kwargs.setdefault("timeout", 60)
        response = self.session.request(method, self.stack.base_url + path, **kwargs)
        # Files and documentation assets are bytes, not JSON documents to check.
        if documented and not path.startswith(("/files/", "/docs/assets/")):
            self._openapi.validate_response(
                RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response)
            )
        return response

    def generate(self, body: dict[str, Any], **kwargs: Any) -> requests.Response:
        return self.request("POST", "/v1/images/generations", json=body, **kwargs)

    def job(self, job_id: str) -> requests.Response:
        return self.request("GET", f"/v1/jobs/{job_id}")

    def wait_for_job(self, job_id: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.job(job_id).json()
            if body["job"]["status"]["status"] in ("completed", "failed", "cancelled"):
                return body
            time.sleep(0.1)
        raise TimeoutError(f"job {job_id} did not finish")

    def fetch(self, url: str) -> requests.Response:
        return requests.get(url, timeout=30)


@pytest.fixture
def api(stack: Stack, tenant: Tenant, openapi: OpenAPI) -> Api:
    return Api(stack, tenant, openapi)


@pytest.fixture
def other_api(stack: Stack, other_tenant: Tenant, openapi: OpenAPI) -> Api:
    return Api(stack, other_tenant, openapi)


@pytest.fixture
def anonymous_api(stack: Stack, openapi: OpenAPI) -> Api:
    return Api(stack, None, openapi)


@pytest.fixture
def model_calls(stack: Stack) -> Callable[[], list[dict[str, Any]]]:
    """The calls the local model endpoint received since the test started."""
    requests.delete(f"{stack.model_endpoint}/_local/requests", timeout=5)

    def calls() -> list[dict[str, Any]]:
        return requests.get(f"{stack.model_endpoint}/_local/requests", timeout=5).json()["requests"]

    return calls

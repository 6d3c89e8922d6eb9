"""Tenants' rate limits through the real stack: requests and images a minute, counted
together by every API worker process through Redis, on both sides of each limit."""

from __future__ import annotations

import time
import uuid

from openapi_core import OpenAPI

from imagegen.records import TenantLimits
from imagegen.storage.sqlite import SqliteRepository
from tests.conftest import Stack, Tenant, make_tenant
from tests.integration.conftest import Api

NOVA = "amazon.nova-canvas-v1:0"


def _tenant_with(stack: Stack, openapi: OpenAPI, **limits: int) -> tuple[Api, Tenant]:
    tenant = make_tenant(stack, f"limited-{uuid.uuid4().hex[:10]}", "u1")
    if limits:
        _set_limits(stack, TenantLimits(tenant.tenant_id, **limits))
    return Api(stack, tenant, openapi), tenant


def _set_limits(stack: Stack, limits: TenantLimits) -> None:
    SqliteRepository(stack.data_dir / "imagegen.sqlite3").put_tenant_limits(limits)


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    return error


def test_requests_over_the_limit_are_429_with_retry_after_and_the_fields(stack, openapi):
    api, _ = _tenant_with(stack, openapi, requests_per_minute=5)
    remaining = []
    for _ in range(5):
        response = api.request("GET", "/v1/jobs")
        assert response.status_code == 200, response.text
        assert response.headers["RateLimit-Policy"] == '"requests";q=5;w=60'
        remaining.append(int(response.headers["RateLimit"].split(";r=")[1].split(";")[0]))
    assert remaining == [4, 3, 2, 1, 0]

    refused = api.request("GET", "/v1/jobs")
    error = _error(refused, 429, "IMG102")
    # One request every 12 s refills a limit of 5 a minute.
    assert 1 <= error["details"]["retry_after"] <= 12
    assert refused.headers["Retry-After"] == str(error["details"]["retry_after"])
    assert refused.headers["RateLimit"].startswith('"requests";r=0;')


def test_one_tenants_limit_leaves_another_tenant_alone(stack, openapi):
    limited, _ = _tenant_with(stack, openapi, requests_per_minute=2)
    other, _ = _tenant_with(stack, openapi)
    for _ in range(2):
        assert limited.request("GET", "/v1/jobs").status_code == 200
    _error(limited.request("GET", "/v1/jobs"), 429, "IMG102")
    for _ in range(5):
        response = other.request("GET", "/v1/jobs")
        assert response.status_code == 200
        assert "RateLimit" not in response.headers  # no limit, nothing to report


def test_images_a_minute_count_images_not_requests(stack, openapi):
    api, _ = _tenant_with(stack, openapi, images_per_minute=4)
    three = api.generate({"prompt": "a fox", "model": NOVA, "n": 3, "async": True})
    assert three.status_code == 202, three.text
    two = api.generate({"prompt": "a hare", "model": NOVA, "n": 2, "async": True})
    error = _error(two, 429, "IMG102")
    assert error["details"]["policy"] == "images" and error["details"]["retry_after"] >= 1
    one = api.generate({"prompt": "a hare", "model": NOVA, "n": 1, "async": True})
    assert one.status_code == 202, one.text
    # Refused submissions recorded nothing: two jobs, four images.
    jobs = api.request("GET", "/v1/jobs").json()["jobs"]
    assert sorted(job["job"]["parameters"]["n"] for job in jobs) == [1, 3]


def test_a_batch_counts_every_image_and_one_larger_than_the_limit_says_to_split_it(stack, openapi):
    api, _ = _tenant_with(stack, openapi, images_per_minute=4)
    batch = {"requests": [{"prompt": f"a pier {i}", "model": NOVA, "n": 2} for i in range(3)]}
    error = _error(api.request("POST", "/v1/batches", json=batch), 429, "IMG102")
    assert "retry_after" not in error["details"] and error["details"]["images"] == 6
    batch["requests"] = batch["requests"][:2]
    assert api.request("POST", "/v1/batches", json=batch).status_code == 202
    _error(api.generate({"prompt": "one more", "model": NOVA, "async": True}), 429, "IMG102")


def test_a_changed_limit_takes_effect_within_five_seconds_without_a_restart(stack, openapi):
    api, tenant = _tenant_with(stack, openapi)
    assert "RateLimit" not in api.request("GET", "/v1/jobs").headers  # cached: no limit
    _set_limits(stack, TenantLimits(tenant.tenant_id, requests_per_minute=1000))
    changed_at = time.monotonic()
    while "RateLimit" not in api.request("GET", "/v1/jobs").headers:
        assert time.monotonic() - changed_at < 6, "the new limit never applied"
        time.sleep(0.2)
    _set_limits(stack, TenantLimits(tenant.tenant_id, requests_per_minute=0))  # unlimited
    changed_at = time.monotonic()
    while "RateLimit" in api.request("GET", "/v1/jobs").headers:
        assert time.monotonic() - changed_at < 6, "the limit was never lifted"
        time.sleep(0.2)

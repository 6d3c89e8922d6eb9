"""Credits and the storage quota through the real stack (gunicorn, Redis, workers,
localbedrock): completed jobs are charged what they report and what the usage report
counts, a failed one is refunded, a submission the balance cannot pay for is 402 IMG101
and a library at its quota 413 IMG103 — every answer checked against the OpenAPI document."""

from __future__ import annotations

import base64
import io
import uuid

import pytest
from PIL import Image as PILImage

from imagegen.records import TenantLimits, utc_now
from imagegen.storage.sqlite import SqliteRepository
from tests.conftest import Stack, Tenant, make_tenant
from tests.integration.conftest import Api

NOVA = "amazon.nova-canvas-v1:0"  # 4 credits an image at 1024x1024
SDXL = "stability.stable-diffusion-xl-v1"  # 4 credits an image


@pytest.fixture
def repository(stack: Stack) -> SqliteRepository:
    return SqliteRepository(stack.data_dir / "imagegen.sqlite3")


@pytest.fixture
def metered(stack: Stack) -> Tenant:
    return make_tenant(stack, f"credits-{uuid.uuid4().hex[:10]}", "carol")


@pytest.fixture
def metered_api(stack: Stack, metered: Tenant, openapi) -> Api:
    return Api(stack, metered, openapi)


def submit(api: Api, prompt: str, model: str = NOVA, n: int = 1):
    return api.generate({"prompt": prompt, "model": model, "n": n, "async": True})


def balance(api: Api) -> dict:
    response = api.request("GET", "/v1/balance")
    assert response.status_code == 200, response.text
    return response.json()


def test_completed_jobs_are_charged_what_they_report_and_usage_counts(
    metered_api, metered, repository
):
    repository.grant_credits(metered.tenant_id, 5000, utc_now(), "test")  # 50 credits
    job_ids = []
    for model, n in ((NOVA, 2), (SDXL, 1)):
        response = submit(metered_api, f"a harbour at dawn {uuid.uuid4().hex[:6]}", model, n)
        assert response.status_code == 202, response.text
        job_ids.append(response.json()["job_id"])
    assert balance(metered_api)["reserved"] == 12.0

    costs = []
    for job_id in job_ids:
        job = metered_api.wait_for_job(job_id)["job"]
        assert job["status"]["status"] == "completed", job["status"]
        costs.append(job["result"]["cost"]["credits_used"])

    shown = balance(metered_api)
    assert (shown["metered"], shown["balance"], shown["reserved"]) == (True, 50 - sum(costs), 0.0)
    usage = metered_api.request("GET", "/v1/usage").json()["totals"]
    assert usage["credits_used"] == sum(costs) == 12.0
    charges = [e for e in repository.ledger_entries(metered.tenant_id, 50) if e.kind == "charge"]
    assert sorted(e.job_id for e in charges) == sorted(job_ids)


def test_a_failed_job_is_refunded(metered_api, metered, repository):
    repository.grant_credits(metered.tenant_id, 1000, utc_now(), "test")
    # localbedrock fails a prompt that asks it to (see localbedrock's triggers).
    response = submit(metered_api, f"trigger-error a failing lighthouse {uuid.uuid4().hex[:6]}")
    assert response.status_code == 202, response.text
    job = metered_api.wait_for_job(response.json()["job_id"])["job"]
    assert job["status"]["status"] == "failed", job["status"]

    shown = balance(metered_api)
    assert (shown["balance"], shown["reserved"]) == (10.0, 0.0)
    kinds = sorted(e.kind for e in repository.ledger_entries(metered.tenant_id, 10, job["job_id"]))
    assert kinds == ["refund", "reservation"]


def test_a_submission_the_balance_cannot_pay_for_is_402_and_nothing_is_queued(
    metered_api, metered, repository
):
    repository.grant_credits(metered.tenant_id, 700, utc_now(), "test")  # 7 credits

    refused = submit(metered_api, "two foxes", n=2)

    assert refused.status_code == 402, refused.text
    error = refused.json()["error"]
    assert error["code"] == "IMG101"
    assert error["details"] == {"remaining_credits": 7.0, "price_credits": 8.0}
    assert metered_api.request("GET", "/v1/jobs").json()["jobs"] == []
    assert balance(metered_api)["balance"] == 7.0


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (48, 48), (seed, 40, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_library_at_its_quota_is_413_until_an_image_is_deleted(metered_api, metered, repository):
    image = _png(1)
    repository.put_tenant_limits(TenantLimits(metered.tenant_id, storage_bytes=len(image)))
    body = {"image_base64": base64.b64encode(image).decode()}
    uploaded = metered_api.request("POST", "/v1/uploads", json=body)
    assert uploaded.status_code == 201, uploaded.text

    refused = submit(metered_api, "a full library")
    assert refused.status_code == 413, refused.text
    error = refused.json()["error"]
    assert error["code"] == "IMG103"
    assert (error["details"]["used_bytes"], error["details"]["limit_bytes"]) == (
        len(image),
        len(image),
    )
    assert balance(metered_api)["storage_used_bytes"] == len(image)

    image_id = uploaded.json()["image_id"]
    assert metered_api.request("DELETE", f"/v1/images/{image_id}").status_code == 204
    assert submit(metered_api, "room again").status_code == 202

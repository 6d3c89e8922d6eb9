"""Credits (402 IMG101), the storage quota (413 IMG103) and GET /v1/balance, in-process: a
submission the balance cannot pay for, or a library at its quota, is refused before
anything is recorded or queued; what is accepted holds its price until it ends."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from imagegen.records import TenantLimits, utc_now
from imagegen.services import Services
from tests.app.conftest import assert_error, b64, bearer, create_api_key, png

NOVA = "amazon.nova-canvas-v1:0"  # 0.04 USD an image at 1024x1024: 4 credits


def generate(client: FlaskClient, auth: dict[str, str], n: int = 1, **fields: object):
    body = {"prompt": "a lighthouse", "model": NOVA, "n": n, "async": True, **fields}
    return client.post("/v1/images/generations", json=body, headers=auth)


def balance(client: FlaskClient, auth: dict[str, str]) -> dict:
    response = client.get("/v1/balance", headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def jobs(client: FlaskClient, auth: dict[str, str]) -> list[dict]:
    return client.get("/v1/jobs", headers=auth).get_json()["jobs"]


def grant(services: Services, credits: float, tenant: str = "tenant-a") -> None:
    services.repository.grant_credits(tenant, round(credits * 100), utc_now(), "test")


def test_an_unmetered_tenant_is_charged_nothing(client, auth):
    assert generate(client, auth).status_code == 202
    shown = balance(client, auth)
    assert (shown["metered"], shown["balance"], shown["reserved"]) == (False, None, None)
    assert shown["limits"] == {
        "requests_per_minute": None,
        "images_per_minute": None,
        "storage_bytes": None,
        "max_concurrent_jobs": None,
    }


def test_a_job_the_balance_cannot_pay_for_is_refused_and_not_recorded(client, auth, services):
    grant(services, 7)

    error = assert_error(generate(client, auth, n=2), 402, "IMG101")

    assert error["details"] == {"remaining_credits": 7.0, "price_credits": 8.0}
    assert jobs(client, auth) == []
    assert (balance(client, auth)["balance"], balance(client, auth)["reserved"]) == (7.0, 0.0)


def test_an_accepted_job_holds_its_price_and_a_cancel_gives_it_back(client, auth, services):
    grant(services, 10)

    accepted = generate(client, auth, n=2)
    assert accepted.status_code == 202
    shown = balance(client, auth)
    assert (shown["metered"], shown["balance"], shown["reserved"]) == (True, 2.0, 8.0)
    # Another job the rest cannot pay for is refused while the first holds its price.
    assert_error(generate(client, auth, n=1), 402, "IMG101")

    job_id = accepted.get_json()["job_id"]
    assert client.post(f"/v1/jobs/{job_id}/cancel", headers=auth).status_code == 200
    shown = balance(client, auth)
    assert (shown["balance"], shown["reserved"]) == (10.0, 0.0)
    entries = services.repository.ledger_entries("tenant-a", 10, job_id=job_id)
    assert sorted(entry.kind for entry in entries) == ["refund", "reservation"]


def test_a_batch_is_refused_whole_when_its_total_is_too_much(client, auth, services):
    grant(services, 10)
    body = {"requests": [{"prompt": "a fox", "model": NOVA, "n": 2} for _ in range(2)]}

    error = assert_error(client.post("/v1/batches", json=body, headers=auth), 402, "IMG101")

    assert error["details"]["price_credits"] == 16.0
    assert jobs(client, auth) == []
    body["requests"].pop()
    assert client.post("/v1/batches", json=body, headers=auth).status_code == 202
    assert balance(client, auth)["reserved"] == 8.0


def test_a_retry_holds_the_price_again_or_is_refused(client, auth, services):
    grant(services, 4)
    job_id = generate(client, auth).get_json()["job_id"]
    error = {"code": "IMG201", "message": "failed", "details": {}}
    assert services.repository.fail_job(job_id, error, utc_now())
    assert balance(client, auth)["balance"] == 4.0
    grant(services, -1)

    refused = client.post(f"/v1/jobs/{job_id}/retry", headers=auth)

    assert assert_error(refused, 402, "IMG101")["details"]["remaining_credits"] == 3.0
    job = services.repository.load_job(job_id)
    assert job is not None and (job.status, job.retry_count) == ("failed", 0)
    grant(services, 1)
    assert client.post(f"/v1/jobs/{job_id}/retry", headers=auth).status_code == 202
    assert (balance(client, auth)["balance"], balance(client, auth)["reserved"]) == (0.0, 4.0)


def test_no_tenant_route_changes_a_balance(client, auth, services):
    grant(services, 5)
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)("/v1/balance", json={"balance": 1e9}, headers=auth)
        assert response.status_code == 405
    assert balance(client, auth)["balance"] == 5.0


class TestDefaultCredits:
    @pytest.fixture
    def app_env(self) -> dict[str, str]:
        return {"IMAGEGEN_DEFAULT_CREDITS": "5"}

    def test_a_new_tenant_opens_with_the_default_once(self, client, auth, services):
        assert balance(client, auth)["metered"] is False  # until its first job
        assert generate(client, auth).status_code == 202
        assert (balance(client, auth)["balance"], balance(client, auth)["reserved"]) == (1.0, 4.0)
        assert_error(generate(client, auth), 402, "IMG101")
        opening = services.repository.ledger_entries("tenant-a", 10)[-1]
        assert (opening.kind, opening.amount, opening.note) == ("grant", 500, "opening balance")


def test_a_library_at_its_quota_refuses_generations_and_uploads(client, auth, services):
    image = png((32, 32))
    services.repository.put_tenant_limits(TenantLimits("tenant-a", storage_bytes=2 * len(image)))
    uploaded = []
    for _ in range(2):
        response = client.post("/v1/uploads", json={"image_base64": b64(image)}, headers=auth)
        assert response.status_code == 201, response.get_data(as_text=True)
        uploaded.append(response.get_json()["image_id"])

    error = assert_error(generate(client, auth), 413, "IMG103")
    assert error["details"] == {
        "used_bytes": 2 * len(image),
        "limit_bytes": 2 * len(image),
        "adding_bytes": 0,
    }
    upload = client.post("/v1/uploads", json={"image_base64": b64(image)}, headers=auth)
    assert assert_error(upload, 413, "IMG103")["details"]["adding_bytes"] == len(image)
    # Another tenant's library is its own.
    other = bearer(create_api_key(services, "tenant-b"))
    assert generate(client, other).status_code == 202

    # Deleting an image makes room again.
    assert client.delete(f"/v1/images/{uploaded[0]}", headers=auth).status_code == 204
    assert generate(client, auth).status_code == 202
    assert balance(client, auth)["storage_used_bytes"] == len(image)

"""Bearer API keys (app/auth.py) on every /v1 route, and tenant isolation: another tenant's
job, batch or image answers exactly as one that does not exist."""

from __future__ import annotations

import sqlite3

import pytest
from flask import Flask
from flask.testing import FlaskClient

from imagegen import keys
from imagegen.services import Services
from tests.app.conftest import assert_error, b64, bearer, create_api_key, png

# One route of every /v1 blueprint (and each method of a blueprint's routes that differ).
V1_ROUTES = [
    ("GET", "/v1/models"),
    ("GET", "/v1/models/amazon.nova-canvas-v1:0"),
    ("POST", "/v1/images/generations"),
    ("POST", "/v1/images/edits"),
    ("POST", "/v1/uploads"),
    ("GET", "/v1/images"),
    ("GET", "/v1/images/img_0123456789abcdef0123456789abcdef"),
    ("PATCH", "/v1/images/img_0123456789abcdef0123456789abcdef"),
    ("DELETE", "/v1/images/img_0123456789abcdef0123456789abcdef"),
    ("GET", "/v1/images/img_0123456789abcdef0123456789abcdef/content"),
    ("GET", "/v1/jobs"),
    ("GET", "/v1/jobs/job_x"),
    ("POST", "/v1/jobs/job_x/cancel"),
    ("POST", "/v1/jobs/job_x/retry"),
    ("GET", "/v1/jobs/job_x/webhook-deliveries"),
    ("POST", "/v1/batches"),
    ("GET", "/v1/batches/bat_x"),
    ("POST", "/v1/batches/bat_x/cancel"),
    ("GET", "/v1/batches/bat_x/webhook-deliveries"),
    ("GET", "/v1/webhooks/secret"),
]
NEVER_MADE = "job_" + "0" * 32


@pytest.mark.parametrize(("method", "path"), V1_ROUTES)
def test_every_v1_route_needs_a_key(client: FlaskClient, method: str, path: str) -> None:
    # A body that would be refused on its own, so only the key can be what is refused.
    response = client.open(path, method=method, data=b"{", content_type="application/json")
    assert_error(response, 401, "AUTH001")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="imagegen"'


@pytest.mark.parametrize(
    "header",
    ["", "igk_{key}", "Token {key}", "Bearer:{key}", "Bearer\t", "Bearer {key} {key}"],
    ids=["empty", "no-scheme", "other-scheme", "colon", "tab-only", "two-tokens"],
)
def test_a_malformed_authorization_header_is_401(
    client: FlaskClient, services: Services, header: str
) -> None:
    key = create_api_key(services, "tenant-a")
    response = client.get("/v1/models", headers={"Authorization": header.format(key=key)})
    assert_error(response, 401, "AUTH001")


def test_a_key_that_was_never_made_is_401_and_one_that_was_is_taken(
    client: FlaskClient, services: Services
) -> None:
    key = create_api_key(services, "tenant-a")
    assert client.get("/v1/models", headers=bearer(key)).status_code == 200
    for wrong in (key[:-1], key + "x", key.upper(), "igk_" + "A" * 43):
        assert_error(client.get("/v1/models", headers=bearer(wrong)), 401, "AUTH001")


def test_a_removed_key_is_refused_within_the_key_cache_ttl(
    app: Flask, client: FlaskClient, services: Services
) -> None:
    # The app trusts a verified key for KEY_CACHE_TTL_SECONDS (imagegen.keys.KeyCache); the
    # cache is given a clock of the test's, as the app would otherwise make it.
    now = [0.0]
    app.extensions["imagegen.keys"] = keys.KeyCache(services.repository, clock=lambda: now[0])
    key = create_api_key(services, "tenant-a")
    assert client.get("/v1/models", headers=bearer(key)).status_code == 200
    with sqlite3.connect(services.settings.database_path) as db:
        db.execute("DELETE FROM api_keys WHERE key_hash = ?", (keys.hash_key(key),))
    now[0] += keys.KEY_CACHE_TTL_SECONDS - 0.5
    assert client.get("/v1/models", headers=bearer(key)).status_code == 200
    now[0] += 0.5
    assert_error(client.get("/v1/models", headers=bearer(key)), 401, "AUTH001")


# --- tenant isolation ------------------------------------------------------------------------


def test_another_tenants_job_is_not_found_by_any_route(
    client: FlaskClient, auth: dict[str, str], other_auth: dict[str, str]
) -> None:
    job_id = client.post(
        "/v1/images/generations", json={"prompt": "mine", "async": True}, headers=auth
    ).get_json()["job_id"]

    for method, path in [
        ("GET", f"/v1/jobs/{job_id}"),
        ("POST", f"/v1/jobs/{job_id}/cancel"),
        ("POST", f"/v1/jobs/{job_id}/retry"),
        ("GET", f"/v1/jobs/{job_id}/webhook-deliveries"),
    ]:
        theirs = assert_error(
            client.open(path, method=method, headers=other_auth), 404, "NOT_FOUND"
        )
        response = client.open(path.replace(job_id, NEVER_MADE), method=method, headers=other_auth)
        never = assert_error(response, 404, "NOT_FOUND")
        # Word for word what a job that never was answers.
        assert theirs == never | {"message": never["message"].replace(NEVER_MADE, job_id)}
    assert client.get("/v1/jobs", headers=other_auth).get_json()["jobs"] == []

    # Nothing the other tenant sent changed the job.
    mine = client.get(f"/v1/jobs/{job_id}", headers=auth).get_json()["job"]
    assert mine["status"]["status"] == "pending"


def test_another_tenants_batch_is_not_found(
    client: FlaskClient, auth: dict[str, str], other_auth: dict[str, str]
) -> None:
    response = client.post("/v1/batches", json={"requests": [{"prompt": "mine"}]}, headers=auth)
    assert response.status_code == 202, response.get_json()
    batch_id = response.get_json()["batch_id"]

    for method, path in [
        ("GET", f"/v1/batches/{batch_id}"),
        ("POST", f"/v1/batches/{batch_id}/cancel"),
        ("GET", f"/v1/batches/{batch_id}/webhook-deliveries"),
    ]:
        assert_error(client.open(path, method=method, headers=other_auth), 404, "NOT_FOUND")
    assert client.get(f"/v1/batches/{batch_id}", headers=auth).get_json()["status"] == "pending"


def test_another_tenants_image_is_not_found_nor_usable_in_an_edit(
    client: FlaskClient, auth: dict[str, str], other_auth: dict[str, str]
) -> None:
    upload = client.post("/v1/uploads", json={"image_base64": b64(png())}, headers=auth)
    assert upload.status_code == 201, upload.get_json()
    image_id = upload.get_json()["image_id"]

    for method, path, body in [
        ("GET", f"/v1/images/{image_id}", None),
        ("PATCH", f"/v1/images/{image_id}", {"status": "saved"}),
        ("DELETE", f"/v1/images/{image_id}", None),
        ("GET", f"/v1/images/{image_id}/content", None),
    ]:
        response = client.open(path, method=method, json=body, headers=other_auth)
        assert_error(response, 404, "NOT_FOUND")
    assert client.get("/v1/images", headers=other_auth).get_json()["total"] == 0
    edit = {"task": "image_to_image", "prompt": "theirs", "image_id": image_id, "async": True}
    error = assert_error(
        client.post("/v1/images/edits", json=edit, headers=other_auth), 400, "IMG302"
    )
    assert error["details"] == {"field": "image_id", "image_id": image_id}

    # Still there, still temporary: the other tenant's PATCH and DELETE did nothing.
    mine = client.get(f"/v1/images/{image_id}", headers=auth)
    assert (mine.status_code, mine.get_json()["status"]) == (200, "temporary")

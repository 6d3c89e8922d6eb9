"""API keys and tenant isolation."""

from __future__ import annotations

import sqlite3

from tests.integration.test_errors import assert_error


def test_no_key_is_401(anonymous_api):
    response = anonymous_api.generate({"prompt": "a cat"})
    assert_error(response, 401, "AUTH001")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(anonymous_api.request("GET", "/v1/models"), 401, "AUTH001")
    assert_error(anonymous_api.request("GET", "/v1/jobs/job_x"), 401, "AUTH001")


def test_a_wrong_key_or_scheme_is_401(anonymous_api, tenant):
    wrong = {"Authorization": "Bearer igk_not-a-real-key-at-all"}
    assert_error(anonymous_api.request("GET", "/v1/models", headers=wrong), 401, "AUTH001")
    basic = {"Authorization": f"Basic {tenant.key}"}
    assert_error(anonymous_api.request("GET", "/v1/models", headers=basic), 401, "AUTH001")


def test_the_scheme_is_case_insensitive_and_spaces_around_the_key_are_ignored(
    anonymous_api, tenant
):
    # RFC 9110 section 11.1: the scheme is case-insensitive; README says so for clients.
    for header in (f"bearer {tenant.key}", f"BEARER   {tenant.key}  ", f"Bearer {tenant.key}\t"):
        response = anonymous_api.request("GET", "/v1/models", headers={"Authorization": header})
        assert response.status_code == 200, header
    for header in ("Bearer", "Bearer    ", f"Bearer{tenant.key}", f"Bearer {tenant.key}x"):
        response = anonymous_api.request("GET", "/v1/models", headers={"Authorization": header})
        assert_error(response, 401, "AUTH001")


def test_another_tenants_job_is_404(api, other_api):
    job_id = api.generate({"prompt": "mine", "async": True}).json()["job_id"]
    api.wait_for_job(job_id)

    assert_error(other_api.job(job_id), 404, "NOT_FOUND")
    assert api.job(job_id).status_code == 200


def test_jobs_record_the_callers_tenant_and_user(api, tenant):
    job_id = api.generate({"prompt": "whose", "async": True}).json()["job_id"]
    job = api.wait_for_job(job_id)["job"]
    assert (job["tenant_id"], job["user_id"]) == (tenant.tenant_id, tenant.user_id)


def test_keys_are_stored_hashed(stack, tenant):
    with sqlite3.connect(stack.data_dir / "imagegen.sqlite3") as db:
        stored = [row[0] for row in db.execute("SELECT key_hash FROM api_keys")]
        dump = "\n".join(db.iterdump())
    assert tenant.key not in dump
    assert all(len(value) == 64 for value in stored)


def test_health_and_docs_need_no_key(anonymous_api):
    assert anonymous_api.request("GET", "/healthz").json()["status"] == "ok"
    spec = anonymous_api.request("GET", "/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    page = anonymous_api.request("GET", "/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    asset = anonymous_api.request("GET", "/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200

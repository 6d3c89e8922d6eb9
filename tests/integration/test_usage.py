"""GET /v1/usage through the real stack: the jobs two users of a tenant ran on two models,
run by the worker against localbedrock, reported as each job reports itself; another
tenant's jobs and a failed job never counted."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest

from imagegen.records import parse_utc, utc_timestamp
from tests.conftest import make_tenant
from tests.integration.conftest import Api

NOVA = "amazon.nova-canvas-v1:0"  # up to 5 images a call
SDXL = "stability.stable-diffusion-xl-v1"  # one image a call


def _run(api: Api, prompt: str, model: str, n: int) -> dict[str, Any]:
    """The finished job as GET /v1/jobs/{id} reports it."""
    response = api.generate({"prompt": prompt, "model": model, "n": n, "async": True})
    assert response.status_code == 202, response.text
    return api.wait_for_job(response.json()["job_id"])["job"]


def _figures(jobs: list[dict[str, Any]], calls: dict[str, int]) -> dict[str, Any]:
    """What the jobs report of themselves, and the model calls localbedrock saw for them."""
    return {
        "jobs": len(jobs),
        "images": sum(len(job["result"]["images"]) for job in jobs),
        "calls": sum(calls[job["request"]["prompt"]] for job in jobs),
        "credits_used": pytest.approx(sum(job["result"]["cost"]["credits_used"] for job in jobs)),
        "price_usd": pytest.approx(sum(job["result"]["cost"]["price_usd"] for job in jobs)),
    }


def _grouped(jobs: list[dict[str, Any]], key: str, calls: dict[str, int]) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for job in jobs:
        groups[job["created_at"][:10] if key == "day" else job[key]].append(job)
    return [{"key": name, **_figures(groups[name], calls)} for name in sorted(groups)]


def test_usage_is_the_sum_of_the_tenants_completed_jobs(stack, openapi, model_calls):
    tenant_id = f"usage-{uuid.uuid4().hex[:12]}"
    alice = Api(stack, make_tenant(stack, tenant_id, "alice"), openapi)
    bob = Api(stack, make_tenant(stack, tenant_id, "bob"), openapi)
    stranger = Api(stack, make_tenant(stack, f"usage-{uuid.uuid4().hex[:12]}", "eve"), openapi)
    token = uuid.uuid4().hex[:8]  # marks this test's prompts among the stack's model calls

    jobs = [
        _run(alice, f"a lighthouse {token} 1", NOVA, 3),
        _run(alice, f"a lighthouse {token} 2", SDXL, 2),
        _run(bob, f"a lighthouse {token} 3", NOVA, 1),
        _run(bob, f"a lighthouse {token} 4", SDXL, 1),
    ]
    assert all(job["status"]["status"] == "completed" for job in jobs)
    failed = _run(alice, "trigger-error", NOVA, 2)
    assert failed["status"]["status"] == "failed"
    elsewhere = _run(stranger, f"a lighthouse {token} 5", NOVA, 4)
    assert elsewhere["status"]["status"] == "completed"

    calls: dict[str, int] = defaultdict(int)
    for call in model_calls():
        for job in jobs:
            if job["request"]["prompt"] in str(call["body"]):
                calls[job["request"]["prompt"]] += 1
    # NOVA makes 3 images in 1 call, SDXL 2 in 2.
    assert [calls[job["request"]["prompt"]] for job in jobs] == [1, 2, 1, 1]

    expected_totals = _figures(jobs, calls)
    for api in (alice, bob):  # each user of the tenant sees the tenant's usage
        response = api.request("GET", "/v1/usage")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["totals"] == expected_totals
        assert (body["group_by"], body["groups"]) == (None, [])

    for group_by, key in (("model", "model"), ("user", "user_id"), ("day", "day")):
        body = alice.request("GET", "/v1/usage", params={"group_by": group_by}).json()
        assert body["totals"] == expected_totals
        assert body["groups"] == _grouped(jobs, key, calls), group_by
    by_model = alice.request("GET", "/v1/usage", params={"group_by": "model"}).json()
    assert [group["key"] for group in by_model["groups"]] == [NOVA, SDXL]
    assert [group["images"] for group in by_model["groups"]] == [4, 3]

    theirs = stranger.request("GET", "/v1/usage", params={"group_by": "user"}).json()
    assert theirs["totals"]["images"] == 4
    assert [group["key"] for group in theirs["groups"]] == ["eve"]


def test_a_period_ends_at_its_to_inclusive(stack, openapi):
    api = Api(stack, make_tenant(stack, f"usage-{uuid.uuid4().hex[:12]}", "alice"), openapi)
    created = parse_utc(_run(api, "a lighthouse at dusk", NOVA, 1)["created_at"])

    def jobs_up_to(end: datetime) -> int:
        period = {"from": utc_timestamp(created - timedelta(hours=1)), "to": utc_timestamp(end)}
        response = api.request("GET", "/v1/usage", params=period)
        assert response.status_code == 200, response.text
        count: int = response.json()["totals"]["jobs"]
        return count

    assert jobs_up_to(created) == 1
    assert jobs_up_to(created - timedelta(milliseconds=1)) == 0


def test_bad_parameters_are_refused(api):
    for params in ({"group_by": "week"}, {"from": "last week"}, {"from": "2020-01-01"}):
        response = api.request("GET", "/v1/usage", params=params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == "IMG302"
        assert response.json()["error"]["details"]["parameter"] in params

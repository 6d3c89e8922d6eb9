"""The usage report (imagegen.usage) over jobs recorded in a real SQLite repository as the
worker records them: started, then completed with their images and cost, failed or
cancelled."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from imagegen.caller import Caller
from imagegen.config import Settings
from imagegen.generation import parse_request, plan_generation
from imagegen.records import COMPLETED, PENDING, Image, Job, utc_in
from imagegen.services import Services, build_services
from imagegen.usage import UsageFigures, parse_usage_query, usage_report
from localrun import EVERY_MODEL_ACTIVE

NOVA = "amazon.nova-canvas-v1:0"  # up to 5 images a call
SDXL = "stability.stable-diffusion-xl-v1"  # one image a call
CALLER = Caller(tenant_id="t1", user_id="u1", request_id="req_test")
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def svc(tmp_path: Path, redis_url: str) -> Services:
    # The report reads only the repository; Redis is configured because Services has it.
    url = redis_url.rsplit("/", 1)[0] + "/9"
    return build_services(
        Settings.from_env(
            {
                "IMAGEGEN_DATA_DIR": str(tmp_path),
                "IMAGEGEN_MODEL_LIFECYCLE": EVERY_MODEL_ACTIVE,
                "IMAGEGEN_REDIS_URL": url,
            }
        )
    )


def _job(
    svc: Services, created_at: str, tenant: str, user: str, model: str, n: int, outcome: str
) -> Job:
    """A job created at created_at, run to `outcome` (completed, failed, cancelled) or left
    pending, as the repository records it."""
    plan = plan_generation(parse_request({"prompt": "a fox", "model": model, "n": n}), NOVA)
    job = Job(
        job_id="job_" + uuid.uuid4().hex,
        tenant_id=tenant,
        user_id=user,
        request_id="req_1",
        kind="text_to_image",
        request={"prompt": "a fox", "model": model, "n": n},
        plan=plan,
        status=PENDING,
        created_at=created_at,
    )
    svc.repository.add_job(job)
    repo = svc.repository
    if outcome == "cancelled":
        assert repo.cancel_job(tenant, job.job_id, created_at)
    elif outcome != PENDING:
        run_id = "run_" + uuid.uuid4().hex
        assert repo.start_job(job.job_id, run_id, created_at, utc_in(60))
        if outcome == COMPLETED:
            images = [_image(job, index) for index in range(n)]
            assert repo.complete_job(job.job_id, run_id, images, plan.cost(), created_at)
        else:
            error = {"code": "IMG201", "message": "image generation failed", "details": {}}
            assert repo.fail_job(job.job_id, error, created_at, run_id)
    stored = repo.get_job(tenant, job.job_id)
    assert stored is not None and stored.status == outcome
    return stored


def _image(job: Job, index: int) -> Image:
    image_id = f"img_{uuid.uuid4().hex}"
    return Image(
        image_id=image_id,
        tenant_id=job.tenant_id,
        user_id=job.user_id,
        job_id=job.job_id,
        model_id=job.plan.model_id,
        original_prompt="a fox",
        revised_prompt="a fox",
        negative_prompt=None,
        width=job.plan.width,
        height=job.plan.height,
        format="png",
        size_bytes=1000,
        quality="standard",
        style=None,
        seed=job.plan.seed + index,
        blob_key=f"{job.tenant_id}/generated/{image_id}.png",
        thumbnail_key=None,
        created_at=job.created_at,
    )


def _figures(*jobs: Job) -> UsageFigures:
    """The jobs' own images, calls and cost, summed."""
    totals = UsageFigures()
    for job in jobs:
        assert job.cost is not None
        totals.jobs += 1
        totals.images += len(job.image_ids)
        totals.calls += len(job.plan.calls())
        totals.credits_used += job.cost["credits_used"]
        totals.price_usd += job.cost["price_usd"]
    return totals.rounded()


def test_totals_and_every_grouping_sum_the_completed_jobs_of_the_period(svc):
    a = _job(svc, "2026-12-01T08:00:00.000Z", "t1", "alice", NOVA, 3, COMPLETED)
    b = _job(svc, "2026-12-01T23:59:59.999Z", "t1", "bob", SDXL, 2, COMPLETED)
    c = _job(svc, "2026-12-02T00:00:00.000Z", "t1", "alice", SDXL, 1, COMPLETED)
    d = _job(svc, "2026-12-03T23:59:59.999Z", "t1", "bob", NOVA, 1, COMPLETED)
    # Nothing else counts: other outcomes, another tenant, outside the period.
    for outcome in ("failed", "cancelled", PENDING):
        _job(svc, "2026-12-02T10:00:00.000Z", "t1", "alice", NOVA, 2, outcome)
    _job(svc, "2026-12-02T10:00:00.000Z", "t2", "alice", NOVA, 4, COMPLETED)
    _job(svc, "2026-11-30T23:59:59.999Z", "t1", "alice", NOVA, 1, COMPLETED)
    _job(svc, "2026-12-04T00:00:00.000Z", "t1", "alice", NOVA, 1, COMPLETED)

    def report(group_by: str | None) -> dict[str, UsageFigures]:
        query = parse_usage_query("2026-12-01", "2026-12-03", group_by, NOW)
        found = usage_report(svc, CALLER, query)
        return {"total": found.totals, **dict(found.groups)}

    total = _figures(a, b, c, d)
    assert (total.jobs, total.images, total.calls) == (4, 7, 5)  # NOVA: 1 call for 3 images
    assert total.price_usd == pytest.approx(0.28)  # 7 images at $0.04
    assert report(None) == {"total": total}
    assert report("day") == {
        "total": total,
        "2026-12-01": _figures(a, b),
        "2026-12-02": _figures(c),
        "2026-12-03": _figures(d),
    }
    assert report("model") == {"total": total, NOVA: _figures(a, d), SDXL: _figures(b, c)}
    assert report("user") == {"total": total, "alice": _figures(a, c), "bob": _figures(b, d)}


def test_a_period_of_more_jobs_than_one_listing_page_counts_each_once(svc):
    # 230 jobs within one second: the walk pages by (created_at, job_id), 100 at a time.
    for index in range(230):
        _job(svc, f"2026-12-02T10:00:00.{index % 7:03d}Z", "t1", "u1", NOVA, 1, COMPLETED)
    query = parse_usage_query("2026-12-02", "2026-12-02", None, NOW)
    totals = usage_report(svc, CALLER, query).totals
    assert (totals.jobs, totals.images, totals.calls) == (230, 230, 230)
    assert totals.price_usd == pytest.approx(230 * 0.04)


def test_an_empty_period_reports_zeros_and_no_groups(svc):
    report = usage_report(svc, CALLER, parse_usage_query(None, None, "model", NOW))
    assert report.totals == UsageFigures()
    assert report.groups == []

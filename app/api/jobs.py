"""A job's status, progress and result (seed 004's GetImageJobResponse), cancel and retry
(imagegen.job_control); the caller's jobs by status (failed ones are the dead-letter list) or
by user (a user's generation history) and webhook deliveries.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from app.auth import require_api_key
from app.context import caller, services
from app.query_params import choice_arg, int_arg, invalid_parameter
from imagegen.job_control import (
    JobQuery,
    cancel_job,
    job_page,
    job_with_quota_wait,
    owned_job,
    retry_job,
)
from imagegen.records import JOB_STATES, Job
from imagegen.serializers import get_job_response, webhook_deliveries

bp = Blueprint("jobs", __name__, url_prefix="/v1")
bp.before_request(require_api_key)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> ResponseReturnValue:
    job, quota_wait = job_with_quota_wait(services(), caller(), job_id)
    return jsonify(_job_response(job, quota_wait))


@bp.get("/jobs")
def list_jobs() -> ResponseReturnValue:
    """The caller's jobs, newest first; `status=failed` is the dead-letter list, and
    `user_id` one user's generation history."""
    query = JobQuery(
        status=choice_arg("status", JOB_STATES, None),
        user_id=_user_id_arg(),
        limit=int_arg("limit", default=20, low=1, high=100),
        cursor=request.args.get("cursor"),
    )
    page = job_page(services(), caller(), query)
    return jsonify(
        {"jobs": [_job_response(job) for job in page.jobs], "next_cursor": page.next_cursor}
    )


def _user_id_arg() -> str | None:
    user_id = request.args.get("user_id")
    if user_id is not None and not 1 <= len(user_id) <= 200:
        raise invalid_parameter("user_id", "user_id must be 1 to 200 characters")
    return user_id


@bp.post("/jobs/<job_id>/cancel")
def cancel(job_id: str) -> ResponseReturnValue:
    return jsonify(_job_response(cancel_job(services(), caller(), job_id)))


@bp.post("/jobs/<job_id>/retry")
def retry(job_id: str) -> ResponseReturnValue:
    response = jsonify(_job_response(retry_job(services(), caller(), job_id)))
    response.headers["Location"] = f"/v1/jobs/{job_id}"
    return response, 202


@bp.get("/jobs/<job_id>/webhook-deliveries")
def job_webhook_deliveries(job_id: str) -> ResponseReturnValue:
    job = owned_job(services(), caller(), job_id)
    attempts = services().repository.webhook_attempts(job.tenant_id, job.job_id)
    return jsonify(webhook_deliveries(attempts))


def _job_response(job: Job, quota_wait: dict[str, Any] | None = None) -> dict[str, Any]:
    svc = services()
    images = svc.repository.get_images(job.tenant_id, job.image_ids)
    return get_job_response(job, images, svc.blobs, quota_wait)

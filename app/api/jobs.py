"""A job's status, progress and result (seed 004's GetImageJobResponse), cancel and retry
(imagegen.job_control); the caller's jobs by status (failed ones are the dead-letter list) or
by user (a user's generation history) and webhook deliveries.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue

from app.auth import require_api_key
from app.context import caller, services
from app.query_params import whole_number
from imagegen import errors
from imagegen.errors import ServiceError
from imagegen.job_control import cancel_job, job_with_quota_wait, owned_job, retry_job
from imagegen.records import JOB_STATES, Job, parse_utc
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
    status = request.args.get("status")
    if status is not None and status not in JOB_STATES:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"status must be one of {', '.join(JOB_STATES)}",
            {"parameter": "status", "allowed": list(JOB_STATES)},
        )
    user_id = request.args.get("user_id")
    if user_id is not None and not 1 <= len(user_id) <= 200:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            "user_id must be 1 to 200 characters",
            {"parameter": "user_id"},
        )
    limit = _int_arg("limit", default=20, low=1, high=100)
    after = _cursor_position(request.args.get("cursor"))
    page = services().repository.list_jobs(g.tenant_id, status, limit + 1, after, user_id=user_id)
    last = page[limit - 1] if len(page) > limit else None
    return jsonify(
        {
            "jobs": [_job_response(job) for job in page[:limit]],
            "next_cursor": _cursor(last) if last is not None else None,
        }
    )


def _cursor(job: Job) -> str:
    """Opaque to clients: where the next page starts."""
    return base64.urlsafe_b64encode(f"{job.created_at}|{job.job_id}".encode()).decode()


def _cursor_position(cursor: str | None) -> tuple[str, str] | None:
    if cursor is None:
        return None
    try:
        created_at, job_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        parse_utc(created_at)
    except ValueError:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            "cursor is not one this API gave out (pass next_cursor as it came)",
            {"parameter": "cursor"},
        ) from None
    return created_at, job_id


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


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    value = whole_number(raw, low, high)
    if value is None:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"{name} must be an integer from {low} to {high}",
            {"parameter": name},
        )
    return value


def _job_response(job: Job, quota_wait: dict[str, Any] | None = None) -> dict[str, Any]:
    svc = services()
    images = svc.repository.get_images(g.tenant_id, job.image_ids)
    return get_job_response(job, images, svc.blobs, quota_wait)

"""A job's status, progress and result (seed 004's GetImageJobResponse), cancel and retry;
the caller's jobs by status (failed ones are the dead-letter list) or by user (a user's
generation history) and webhook deliveries.

Cancel: a pending job never runs; a processing one stops at its next image and keeps
nothing. Retry: a failed job runs again as a new attempt of the same job (retry_count + 1).
Both answer 409 when the job is in no state for it.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from flask.typing import ResponseReturnValue
from redis.exceptions import RedisError

from app.auth import require_api_key
from app.context import services
from app.errors import error_response
from app.query_params import whole_number
from imagegen import errors
from imagegen.errors import ServiceError
from imagegen.events import finish_batch_if_done
from imagegen.job_files import discard_files
from imagegen.records import JOB_STATES, PENDING, Job, parse_utc, utc_now
from imagegen.serializers import get_job_response

bp = Blueprint("jobs", __name__, url_prefix="/v1")
bp.before_request(require_api_key)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> ResponseReturnValue:
    job = _owned_job(job_id)
    # Only here, not in the list: one Redis read per pending job asked about.
    quota_wait = None
    if job.status == PENDING:
        quota_wait = services().budget.place(job.plan["model_id"], job.job_id)
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
def cancel_job(job_id: str) -> ResponseReturnValue:
    repository = services().repository
    job = _owned_job(job_id)
    if not repository.cancel_job(g.tenant_id, job_id, utc_now()):
        return _conflict(job, "cancelled", "only a pending or processing job can be cancelled")
    if job.status == PENDING:
        # A run that died before it was taken back may have left files; a running job's run
        # removes its own when it sees the cancel.
        discard_files(services().blobs, job)
    services().queue.signal_cancelled(job_id)
    services().queue.signal_finished(job_id)
    finish_batch_if_done(repository, job)
    return jsonify(_job_response(_owned_job(job_id)))


@bp.post("/jobs/<job_id>/retry")
def retry_job(job_id: str) -> ResponseReturnValue:
    svc = services()
    job = _owned_job(job_id)
    if not svc.repository.retry_job(g.tenant_id, job_id, utc_now()):
        return _conflict(job, "retried", "only a failed job can be retried")
    try:
        svc.queue.enqueue_generation(job_id, g.request_id, job.priority)
    except RedisError:
        error = ServiceError(
            errors.SERVICE_UNAVAILABLE,
            "the job queue is unavailable; try again",
            {"retry_after": 5},
        )
        svc.repository.fail_job(job_id, error.to_dict(), utc_now())
        raise error from None
    response = jsonify(_job_response(_owned_job(job_id)))
    response.headers["Location"] = f"/v1/jobs/{job_id}"
    return response, 202


@bp.get("/jobs/<job_id>/webhook-deliveries")
def job_webhook_deliveries(job_id: str) -> ResponseReturnValue:
    _owned_job(job_id)
    return jsonify(delivery_log(job_id))


def delivery_log(subject_id: str) -> dict[str, Any]:
    """Every delivery attempt of a job's or batch's webhooks, oldest first."""
    attempts = services().repository.webhook_attempts(g.tenant_id, subject_id)
    return {
        "deliveries": [
            {
                "webhook_id": attempt.webhook_id,
                "event": attempt.event,
                "attempt": attempt.attempt,
                "attempted_at": attempt.attempted_at,
                "status_code": attempt.status_code,
                "error": attempt.error,
                "duration_ms": attempt.duration_ms,
                "delivered": attempt.status_code is not None and 200 <= attempt.status_code < 300,
            }
            for attempt in attempts
        ]
    }


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


def _owned_job(job_id: str) -> Job:
    # Another tenant's job is indistinguishable from a missing one.
    job = services().repository.get_job(g.tenant_id, job_id)
    if job is None:
        raise ServiceError(errors.NOT_FOUND, f"no job {job_id}")
    return job


def _job_response(job: Job, quota_wait: dict[str, Any] | None = None) -> dict[str, Any]:
    svc = services()
    images = svc.repository.get_images(g.tenant_id, job.image_ids)
    return get_job_response(job, images, svc.blobs, quota_wait)


def _conflict(job: Job, action: str, message: str) -> tuple[Response, int]:
    error = ServiceError(
        errors.INVALID_PARAMETERS,
        f"job {job.job_id} is {job.status} and cannot be {action}: {message}",
        {"job_id": job.job_id, "status": job.status},
    )
    return error_response(error, 409)

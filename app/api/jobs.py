"""A job's status, progress and result (seed 004's GetImageJobResponse), cancel and retry.

Cancel: a pending job never runs; a processing one stops at its next image and keeps
nothing. Retry: a failed job runs again as a new attempt of the same job (retry_count + 1).
Both answer 409 when the job is in no state for it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify
from flask.typing import ResponseReturnValue
from redis.exceptions import RedisError

from app import services
from app.auth import require_api_key
from app.errors import error_response
from app.serializers import get_job_response
from imagegen import errors
from imagegen.errors import ServiceError
from imagegen.records import Job, utc_now

bp = Blueprint("jobs", __name__, url_prefix="/v1")
bp.before_request(require_api_key)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> ResponseReturnValue:
    return jsonify(_job_response(_owned_job(job_id)))


@bp.post("/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> ResponseReturnValue:
    job = _owned_job(job_id)
    if not services().repository.cancel_job(g.tenant_id, job_id, utc_now()):
        return _conflict(job, "cancelled", "only a pending or processing job can be cancelled")
    return jsonify(_job_response(_owned_job(job_id)))


@bp.post("/jobs/<job_id>/retry")
def retry_job(job_id: str) -> ResponseReturnValue:
    svc = services()
    job = _owned_job(job_id)
    if not svc.repository.retry_job(g.tenant_id, job_id):
        return _conflict(job, "retried", "only a failed job can be retried")
    try:
        svc.queue.enqueue_generation(job_id, g.request_id)
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


def _owned_job(job_id: str) -> Job:
    # Another tenant's job is indistinguishable from a missing one.
    job = services().repository.get_job(g.tenant_id, job_id)
    if job is None:
        raise ServiceError(errors.NOT_FOUND, f"no job {job_id}")
    return job


def _job_response(job: Job) -> dict[str, Any]:
    svc = services()
    images = svc.repository.get_images(g.tenant_id, job.image_ids)
    return get_job_response(job, images, svc.blobs)


def _conflict(job: Job, action: str, message: str) -> tuple[Response, int]:
    error = ServiceError(
        errors.INVALID_PARAMETERS,
        f"job {job.job_id} is {job.status} and cannot be {action}: {message}",
        {"job_id": job.job_id, "status": job.status},
    )
    return error_response(error, 409)

"""Submitting a job: record it, queue it, then answer at once (async) or wait for it (sync).

A synchronous request waits for the worker up to IMAGEGEN_SYNC_WAIT_SECONDS (or less, when
the client sends `Prefer: wait=N`, RFC 7240); when the wait runs out it answers 202 with the
job id instead of failing, and the job carries on.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from flask import Response, g, jsonify, request
from flask.typing import ResponseReturnValue
from redis.exceptions import RedisError

from app import services
from app.errors import error_response
from app.serializers import image_data
from imagegen import errors
from imagegen.errors import ServiceError
from imagegen.generation import GenerationPlan
from imagegen.records import COMPLETED, FAILED, Job, utc_now

log = logging.getLogger(__name__)
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait=(\d+)", re.IGNORECASE)


def check_webhook_url(url: str | None) -> None:
    """Shape checks only; delivery (and its address checks) comes with webhook delivery."""
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            "webhook_url must be an absolute http(s) URL",
            {"parameter": "webhook_url"},
        )
    if parts.username or parts.password:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            "webhook_url must not contain credentials",
            {"parameter": "webhook_url"},
        )


def submit(job: Job, run_async: bool) -> ResponseReturnValue:
    svc = services()
    svc.repository.add_job(job)
    try:
        svc.queue.enqueue_generation(job.job_id, g.request_id)
    except RedisError:
        log.exception("could not enqueue the job")
        error = ServiceError(
            errors.SERVICE_UNAVAILABLE,
            "the job queue is unavailable; try again",
            {"retry_after": 5},
        )
        svc.repository.fail_job(job.job_id, error.to_dict(), utc_now())
        raise error from None
    log.info(
        "job accepted",
        extra={
            "job_id": job.job_id,
            "task": job.kind,
            "model": job.plan["model_id"],
            "n": job.plan["n"],
        },
    )

    if run_async:
        return _accepted(job)
    wait, applied = _wait_seconds(svc.settings.sync_wait_seconds)
    svc.queue.wait_until_finished(job.job_id, wait)
    finished = svc.repository.get_job(g.tenant_id, job.job_id) or job
    if finished.status == COMPLETED:
        return _completed(finished, applied)
    if finished.status == FAILED and finished.error:
        error = ServiceError.from_dict(finished.error)
        error.details = {**error.details, "job_id": finished.job_id}
        return error_response(error)
    return _accepted(finished, applied)


def _wait_seconds(configured: float) -> tuple[float, str | None]:
    match = _PREFER_WAIT.search(request.headers.get("Prefer", ""))
    if match is None:
        return configured, None
    wait = min(float(match.group(1)), configured)
    return wait, f"wait={int(wait)}"


def _base_body(job: Job) -> dict[str, Any]:
    body: dict[str, Any] = {
        "job_id": job.job_id,
        "status": job.status,
        "request_id": job.request_id,
        "created_at": job.created_at,
        "model": job.plan["model_id"],
        "task": job.kind,
    }
    if job.plan.get("model_note"):
        body["warnings"] = [job.plan["model_note"]]
    return body


def _completed(job: Job, applied: str | None) -> Response:
    svc = services()
    images = svc.repository.get_images(job.tenant_id, job.image_ids)
    body = _base_body(job)
    body["images"] = [image_data(image, svc.blobs) for image in images]
    body["cost"] = job.cost
    response = jsonify(body)
    if applied:
        response.headers["Preference-Applied"] = applied
    return response


def _accepted(job: Job, applied: str | None = None) -> tuple[Response, int]:
    body = _base_body(job)
    # The price is fixed by the plan, so the pending answer already says what it will cost.
    body["cost"] = GenerationPlan.from_dict(job.plan).cost()
    response = jsonify(body)
    response.headers["Location"] = f"/v1/jobs/{job.job_id}"
    if applied:
        response.headers["Preference-Applied"] = applied
    return response, 202

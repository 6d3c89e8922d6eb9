"""Submitting a job: record it, queue it, then answer at once (async) or wait for it (sync).

A synchronous request waits for the worker up to IMAGEGEN_SYNC_WAIT_SECONDS (or less, when
the client sends `Prefer: wait=N`, RFC 7240); when the wait runs out it answers 202 with the
job id instead of failing, and the job carries on.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from flask import Response, g, jsonify, make_response, request
from flask.typing import ResponseReturnValue
from redis.exceptions import RedisError

from app import idempotency
from app.context import services
from app.errors import error_response
from imagegen import errors
from imagegen.errors import ServiceError
from imagegen.generation import GenerationPlan
from imagegen.records import CANCELLED, COMPLETED, FAILED, Job, utc_now
from imagegen.serializers import image_data
from imagegen.storage.repository import IdempotencyKeyTaken
from imagegen.webhooks.destinations import UnsafeDestination, check_destination

log = logging.getLogger(__name__)
# RFC 7240's delta-seconds, in ASCII digits only; ten of them is over 300 years.
_DELTA_SECONDS = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True)
class SyncWait:
    """How long a synchronous request waits, and the Preference-Applied value, if any."""

    seconds: float
    applied: str | None


def check_webhook_url(url: str | None) -> None:
    """Refuse a webhook URL we would not deliver to (it is checked again at each delivery,
    as its host may resolve differently by then)."""
    if url is None:
        return
    try:
        check_destination(url, services().webhook_policy)
    except UnsafeDestination as refused:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"webhook_url is not allowed: {refused.reason}",
            {"parameter": "webhook_url"},
        ) from None


def submit(job: Job, run_async: bool, wait: SyncWait) -> ResponseReturnValue:
    """Record and queue a new job; or, when its Idempotency-Key was bound meanwhile by an
    identical request, answer about that request's job instead."""
    svc = services()
    binding = idempotency.new_binding(job.job_id)
    try:
        svc.repository.add_job(job, binding)
    except IdempotencyKeyTaken as taken:
        idempotency.check_same_request(taken.existing)
        _delete_prepared_inputs(job)
        return replay(taken.existing.resource_id, wait)
    try:
        svc.queue.enqueue_generation(job.job_id, g.request_id, job.priority)
    except RedisError:
        log.exception("could not enqueue the job")
        error = ServiceError(
            errors.SERVICE_UNAVAILABLE,
            "the job queue is unavailable; try again",
            {"retry_after": 5},
        )
        svc.repository.fail_job(job.job_id, error.to_dict(), utc_now())
        if binding is not None:  # nothing was accepted: the key stays free for the retry
            svc.repository.delete_idempotency_key(binding.tenant_id, binding.key)
        raise error from None
    log.info(
        "job accepted",
        extra={
            "job_id": job.job_id,
            "task": job.kind,
            "model": job.plan["model_id"],
            "n": job.plan["n"],
            "priority": job.priority,
        },
    )
    return respond(job, run_async, wait)


def replay(job_id: str, wait: SyncWait) -> ResponseReturnValue:
    """Answer a repeated request as its first one is answered now: about the same job."""
    job = services().repository.get_job(g.tenant_id, job_id)
    if job is None:
        raise ServiceError(errors.NOT_FOUND, f"no job {job_id}")
    response = make_response(respond(job, bool(job.request.get("async")), wait))
    response.headers[idempotency.REPLAYED_HEADER] = "true"
    return response


def respond(job: Job, run_async: bool, wait: SyncWait) -> ResponseReturnValue:
    """202 with the job at once (async); or wait for it and answer its images or error."""
    svc = services()
    if run_async or job.status == CANCELLED:
        return _accepted(job)
    if not job.finished:
        svc.queue.wait_until_finished(job.job_id, wait.seconds)
    finished = svc.repository.get_job(g.tenant_id, job.job_id) or job
    if finished.status == COMPLETED:
        return _completed(finished, wait.applied)
    if finished.status == FAILED and finished.error:
        error = ServiceError.from_dict(finished.error)
        error.details = {**error.details, "job_id": finished.job_id}
        return error_response(error)
    return _accepted(finished, wait.applied)


def _delete_prepared_inputs(job: Job) -> None:
    """The model-ready inputs an edit stored for a job that lost its idempotency race."""
    plan = job.plan
    for key in [plan.get("source_key"), plan.get("mask_key"), *plan.get("reference_keys", ())]:
        if key:
            services().blobs.delete(key)


def requested_wait() -> SyncWait:
    """The synchronous wait: the server's limit, or less when the request says
    `Prefer: wait=N` (RFC 7240). A wait preference that is not whole seconds is refused
    rather than ignored, so a client never waits longer than it asked for by mistake.
    Routes read it first, so a refused header leaves nothing recorded or stored."""
    configured = services().settings.sync_wait_seconds
    for preference in ",".join(request.headers.getlist("Prefer")).split(","):
        name, _, value = preference.split(";")[0].partition("=")
        if name.strip().lower() != "wait":
            continue
        value = value.strip().strip('"')
        if not _DELTA_SECONDS.fullmatch(value):
            raise ServiceError(
                errors.INVALID_PARAMETERS,
                "Prefer: wait must be a whole number of seconds, such as wait=10",
                {"parameter": "Prefer"},
            )
        seconds = min(float(value), configured)
        return SyncWait(seconds, f"wait={int(seconds)}")
    return SyncWait(configured, None)


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

"""Answering a submission: at once (async), or once the job finished (sync).

A synchronous request waits for the worker up to IMAGEGEN_SYNC_WAIT_SECONDS (or less, when
the client sends `Prefer: wait=N`, RFC 7240); when the wait runs out it answers 202 with the
job id instead of failing, and the job carries on. A request repeated with its
Idempotency-Key is answered as its first one is answered now: about the same job.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response, jsonify, make_response, request
from flask.typing import ResponseReturnValue

from app import idempotency
from app.context import caller, services
from app.errors import error_response
from imagegen import errors
from imagegen.errors import ServiceError
from imagegen.job_control import owned_job, wait_for_job
from imagegen.model_lifecycle import deprecation_headers, legacy_warning
from imagegen.records import CANCELLED, COMPLETED, FAILED, IdempotencyClaim, Job
from imagegen.serializers import image_data
from imagegen.storage.repository import IdempotencyKeyTaken

# RFC 7240's delta-seconds, in ASCII digits only; ten of them is over 300 years.
_DELTA_SECONDS = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True)
class SyncWait:
    """How long a synchronous request waits, and the Preference-Applied value, if any."""

    seconds: float
    applied: str | None


def answer_submission(
    submit: Callable[[IdempotencyClaim | None], Job], run_async: bool, wait: SyncWait
) -> ResponseReturnValue:
    """Run the use case that submits the job, and answer about the job; or, when an
    identical request bound the Idempotency-Key meanwhile, about that request's job."""
    try:
        job = submit(idempotency.claim())
    except IdempotencyKeyTaken as taken:
        idempotency.check_same_request(taken.existing)
        return replay(taken.existing.resource_id, wait)
    return respond(job, run_async, wait)


def replay(job_id: str, wait: SyncWait) -> ResponseReturnValue:
    """Answer a repeated request as its first one is answered now: about the same job."""
    job = owned_job(services(), caller(), job_id)
    response = make_response(respond(job, bool(job.request.get("async")), wait))
    response.headers[idempotency.REPLAYED_HEADER] = "true"
    return response


def respond(job: Job, run_async: bool, wait: SyncWait) -> ResponseReturnValue:
    """The answer about a job, with a Legacy model's deprecation headers on it."""
    response = make_response(_answer(job, run_async, wait))
    svc = services()
    lifecycle = svc.lifecycle.of(job.plan.model_id)
    response.headers.update(deprecation_headers(lifecycle, svc.settings.public_base_url))
    return response


def _answer(job: Job, run_async: bool, wait: SyncWait) -> ResponseReturnValue:
    """202 with the job at once (async); or wait for it and answer its images or error."""
    if run_async or job.status == CANCELLED:
        return _accepted(job)
    finished = wait_for_job(services(), job, wait.seconds)
    if finished.status == COMPLETED:
        return _completed(finished, wait.applied)
    if finished.status == FAILED and finished.error:
        error = ServiceError.from_dict(finished.error)
        error.details = {**error.details, "job_id": finished.job_id}
        return error_response(error)
    return _accepted(finished, wait.applied)


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
        "model": job.plan.model_id,
        "task": job.kind,
    }
    lifecycle = services().lifecycle.of(job.plan.model_id)
    warnings = [w for w in (job.plan.model_note, legacy_warning(job.plan.model_id, lifecycle)) if w]
    if warnings:
        body["warnings"] = warnings
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
    body["cost"] = job.plan.cost()
    response = jsonify(body)
    response.headers["Location"] = f"/v1/jobs/{job.job_id}"
    if applied:
        response.headers["Preference-Applied"] = applied
    return response, 202

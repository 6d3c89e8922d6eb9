"""Batches: many generation and edit requests submitted as one, each becoming its own job.

POST /v1/batches checks every request before it stores anything, so a batch is accepted
whole or refused whole (the error names the request by `details.index`). The batch and its
jobs are recorded in one write, then queued; a job that could not be queued is queued by the
worker's sweeper. Each job sends its own webhook; the batch sends `image.batch.completed`
once every job has finished (completed, failed or cancelled).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, Response, g, jsonify, make_response
from flask.typing import ResponseReturnValue
from redis.exceptions import RedisError

from app import idempotency
from app.api.edits import EditDraft
from app.api.generations import generation_job
from app.api.image_input import accept_large_bodies
from app.api.jobs import delivery_log
from app.auth import require_api_key
from app.context import services
from app.json_body import json_body
from app.submission import check_webhook_url
from imagegen import errors
from imagegen.editing import parse_edit_request
from imagegen.errors import ServiceError
from imagegen.events import finish_batch_if_done
from imagegen.generation import parse_request
from imagegen.records import MAX_PRIORITY, MIN_PRIORITY, PENDING, PROCESSING, Batch, Job, utc_now
from imagegen.serializers import batch_body
from imagegen.storage.repository import IdempotencyKeyTaken

bp = Blueprint("batches", __name__, url_prefix="/v1")
bp.before_request(require_api_key)
# Edit requests in a batch may carry their images inline.
accept_large_bodies(bp)
log = logging.getLogger(__name__)

_ITEM_TYPES = ("generation", "edit")
# Batch-level settings each request inherits unless it sets its own.
_INHERITED = ("webhook_url", "priority")


@bp.post("/batches")
def create_batch() -> ResponseReturnValue:
    svc = services()
    seen = idempotency.seen_before()
    if seen is not None:
        return _replay(seen.resource_id)
    body = json_body()
    if not isinstance(body, dict):
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            "the request body must be a JSON object with a 'requests' list",
        )
    items, shared = _read_batch(body, svc.settings.max_batch_requests)
    batch_id = "bat_" + uuid.uuid4().hex
    # Check every request first; store inputs only once all of them proved usable.
    drafts: list[EditDraft | Job] = []
    for index, item in enumerate(items):
        with _naming_item(index):
            drafts.append(_check_item({**shared, **item}, batch_id))
    jobs = [d.job(batch_id) if isinstance(d, EditDraft) else d for d in drafts]
    batch = Batch(
        batch_id=batch_id,
        tenant_id=g.tenant_id,
        user_id=g.user_id,
        request_id=g.request_id,
        job_ids=[job.job_id for job in jobs],
        status=PENDING,
        created_at=utc_now(),
        webhook_url=shared.get("webhook_url"),
    )
    try:
        svc.repository.add_batch(batch, jobs, idempotency.new_binding(batch_id))
    except IdempotencyKeyTaken as taken:
        idempotency.check_same_request(taken.existing)
        return _replay(taken.existing.resource_id)
    try:
        for job in jobs:
            svc.queue.enqueue_generation(job.job_id, g.request_id, job.priority)
    except RedisError:
        # Recorded is accepted: the sweeper queues what Redis did not take.
        log.exception("could not queue every job of the batch; the sweeper will")
    log.info("batch accepted", extra={"batch_id": batch_id, "jobs": len(jobs)})
    return _batch_response(batch, 202)


@bp.get("/batches/<batch_id>")
def get_batch(batch_id: str) -> ResponseReturnValue:
    return _batch_response(_owned_batch(batch_id))


@bp.post("/batches/<batch_id>/cancel")
def cancel_batch(batch_id: str) -> ResponseReturnValue:
    """Cancel every job of the batch that has not finished; finished ones keep their result."""
    svc = services()
    batch = _owned_batch(batch_id)
    now = utc_now()
    cancelled = [
        job_id
        for job_id, status in svc.repository.batch_job_states(batch_id).items()
        if status in (PENDING, PROCESSING) and svc.repository.cancel_job(g.tenant_id, job_id, now)
    ]
    for job_id in cancelled:
        svc.queue.signal_cancelled(job_id)
        svc.queue.signal_finished(job_id)
    if cancelled:
        job = svc.repository.get_job(g.tenant_id, cancelled[0])
        if job is not None:
            finish_batch_if_done(svc.repository, job)
    return _batch_response(_owned_batch(batch.batch_id))


@bp.get("/batches/<batch_id>/webhook-deliveries")
def batch_webhook_deliveries(batch_id: str) -> ResponseReturnValue:
    _owned_batch(batch_id)
    return jsonify(delivery_log(batch_id))


def _read_batch(body: dict[str, Any], limit: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    unknown = sorted(set(body) - {"requests", *_INHERITED})
    if unknown:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"unknown fields: {', '.join(unknown)}",
            {"invalid_parameters": [{"field": f, "issue": "unknown"} for f in unknown]},
        )
    items = body.get("requests")
    if not isinstance(items, list) or not items:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            "requests must be a non-empty list of generation or edit requests",
            {"parameter": "requests"},
        )
    if len(items) > limit:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"a batch takes at most {limit} requests, got {len(items)}",
            {"parameter": "requests", "limit": limit},
        )
    not_objects = [i for i, item in enumerate(items) if not isinstance(item, dict)]
    if not_objects:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"each request must be a JSON object; requests[{not_objects[0]}] is not",
            {"parameter": f"requests[{not_objects[0]}]"},
        )
    priority = body.get("priority")
    if priority is not None and (
        type(priority) is not int or not MIN_PRIORITY <= priority <= MAX_PRIORITY
    ):
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"priority must be an integer from {MIN_PRIORITY} to {MAX_PRIORITY}",
            {"parameter": "priority"},
        )
    webhook_url = body.get("webhook_url")
    if webhook_url is not None and not isinstance(webhook_url, str):
        raise ServiceError(
            errors.INVALID_PARAMETERS, "webhook_url must be a string", {"parameter": "webhook_url"}
        )
    check_webhook_url(webhook_url)
    shared = {name: body[name] for name in _INHERITED if body.get(name) is not None}
    return items, shared


def _check_item(item: dict[str, Any], batch_id: str) -> EditDraft | Job:
    fields = dict(item)
    kind = fields.pop("type", "generation")
    if kind not in _ITEM_TYPES:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"type must be one of {', '.join(_ITEM_TYPES)}",
            {"parameter": "type", "allowed": list(_ITEM_TYPES)},
        )
    if "async" in fields:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            "the requests of a batch always run asynchronously: leave out 'async'",
            {"parameter": "async"},
        )
    if kind == "edit":
        return EditDraft.check(services(), parse_edit_request(fields, strict=True))
    return generation_job(parse_request(fields), batch_id)


@contextmanager
def _naming_item(index: int) -> Iterator[None]:
    """Prefixes a refused request's error with its place in the batch."""
    try:
        yield
    except ServiceError as error:
        error.message = f"requests[{index}]: {error.message}"
        error.details = {**error.details, "index": index}
        raise


def _owned_batch(batch_id: str) -> Batch:
    batch = services().repository.get_batch(g.tenant_id, batch_id)
    if batch is None:
        raise ServiceError(errors.NOT_FOUND, f"no batch {batch_id}")
    return batch


def _batch_response(batch: Batch, status: int = 200) -> Response:
    states = services().repository.batch_job_states(batch.batch_id)
    response = make_response(jsonify(batch_body(batch, states)), status)
    response.headers["Location"] = f"/v1/batches/{batch.batch_id}"
    return response


def _replay(batch_id: str) -> Response:
    batch = services().repository.get_batch(g.tenant_id, batch_id)
    if batch is None:
        raise ServiceError(errors.NOT_FOUND, f"no batch {batch_id}")
    response = _batch_response(batch, 202)
    response.headers[idempotency.REPLAYED_HEADER] = "true"
    return response

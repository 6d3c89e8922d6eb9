"""Batches: many generation and edit requests submitted as one, each becoming its own job
(imagegen.submissions.submit_batch); reading a batch, cancelling it, its webhook log.

Each job sends its own webhook; the batch sends `image.batch.completed` once every job has
finished (completed, failed or cancelled).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, make_response
from flask.typing import ResponseReturnValue

from app import idempotency
from app.api.image_input import accept_large_bodies
from app.auth import require_api_key
from app.context import caller, services
from app.json_body import json_body
from imagegen.job_control import cancel_batch, owned_batch
from imagegen.records import Batch
from imagegen.serializers import batch_body, webhook_deliveries
from imagegen.storage.repository import IdempotencyKeyTaken
from imagegen.submissions import submit_batch

bp = Blueprint("batches", __name__, url_prefix="/v1")
bp.before_request(require_api_key)
# Edit requests in a batch may carry their images inline.
accept_large_bodies(bp)


@bp.post("/batches")
def create_batch() -> ResponseReturnValue:
    seen = idempotency.seen_before()
    if seen is not None:
        return _replay(seen.resource_id)
    try:
        batch = submit_batch(services(), caller(), json_body(), idempotency.claim())
    except IdempotencyKeyTaken as taken:
        idempotency.check_same_request(taken.existing)
        return _replay(taken.existing.resource_id)
    return _batch_response(batch, 202)


@bp.get("/batches/<batch_id>")
def get_batch(batch_id: str) -> ResponseReturnValue:
    return _batch_response(owned_batch(services(), caller(), batch_id))


@bp.post("/batches/<batch_id>/cancel")
def cancel(batch_id: str) -> ResponseReturnValue:
    """Cancel every job of the batch that has not finished; finished ones keep their result."""
    return _batch_response(cancel_batch(services(), caller(), batch_id))


@bp.get("/batches/<batch_id>/webhook-deliveries")
def batch_webhook_deliveries(batch_id: str) -> ResponseReturnValue:
    batch = owned_batch(services(), caller(), batch_id)
    attempts = services().repository.webhook_attempts(batch.tenant_id, batch.batch_id)
    return jsonify(webhook_deliveries(attempts))


def _batch_response(batch: Batch, status: int = 200) -> Response:
    states = services().repository.batch_job_states(batch.batch_id)
    response = make_response(jsonify(batch_body(batch, states)), status)
    response.headers["Location"] = f"/v1/batches/{batch.batch_id}"
    return response


def _replay(batch_id: str) -> Response:
    response = _batch_response(owned_batch(services(), caller(), batch_id), 202)
    response.headers[idempotency.REPLAYED_HEADER] = "true"
    return response

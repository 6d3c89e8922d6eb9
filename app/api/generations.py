"""POST /v1/images/generations: text-to-image, synchronous by default (see app.submission)."""

from __future__ import annotations

import uuid

from flask import Blueprint, g
from flask.typing import ResponseReturnValue

from app import idempotency
from app.auth import require_api_key
from app.context import services
from app.json_body import json_body
from app.submission import check_webhook_url, replay, requested_wait, submit
from imagegen import catalog, errors
from imagegen.errors import ServiceError
from imagegen.generation import GenerationRequest, parse_request, plan_generation
from imagegen.records import PENDING, Job, utc_now

bp = Blueprint("generations", __name__, url_prefix="/v1")
bp.before_request(require_api_key)


@bp.post("/images/generations")
def create_generation() -> ResponseReturnValue:
    wait = requested_wait()
    seen = idempotency.seen_before()
    if seen is not None:
        return replay(seen.resource_id, wait)
    body = json_body()
    if body is None:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            "the request body must be JSON (Content-Type: application/json)",
        )
    generation = parse_request(body)
    job = generation_job(generation)
    return submit(job, generation.async_, wait)


def generation_job(generation: GenerationRequest, batch_id: str | None = None) -> Job:
    """The job for a valid request (a batch's items go through here too)."""
    plan = plan_generation(generation, services().settings.default_model)
    check_webhook_url(generation.webhook_url)
    return Job(
        job_id="job_" + uuid.uuid4().hex,
        tenant_id=g.tenant_id,
        user_id=g.user_id,
        request_id=g.request_id,
        kind=catalog.TEXT_TO_IMAGE,
        request=generation.model_dump(by_alias=True, exclude_none=True),
        plan=plan.to_dict(),
        status=PENDING,
        status_message="queued",
        created_at=utc_now(),
        webhook_url=generation.webhook_url,
        priority=generation.priority,
        batch_id=batch_id,
    )

"""POST /v1/images/generations: text-to-image, synchronous by default (see app.submission)."""

from __future__ import annotations

import uuid

from flask import Blueprint, g, request
from flask.typing import ResponseReturnValue

from app import services
from app.auth import require_api_key
from app.submission import check_webhook_url, submit
from imagegen import catalog, errors
from imagegen.errors import ServiceError
from imagegen.generation import parse_request, plan_generation
from imagegen.records import PENDING, Job, utc_now

bp = Blueprint("generations", __name__, url_prefix="/v1")
bp.before_request(require_api_key)


@bp.post("/images/generations")
def create_generation() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if body is None:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            "the request body must be JSON (Content-Type: application/json)",
        )
    generation = parse_request(body)
    plan = plan_generation(generation, services().settings.default_model)
    check_webhook_url(generation.webhook_url)
    job = Job(
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
    )
    return submit(job, generation.async_)

"""POST /v1/images/generations: text-to-image, synchronous by default (see app.submission)."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from app import idempotency
from app.auth import require_api_key
from app.context import caller, services
from app.json_body import json_body
from app.submission import answer_submission, replay, requested_wait
from imagegen import errors
from imagegen.errors import ServiceError
from imagegen.generation import parse_request
from imagegen.submissions import submit_generation

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
    return answer_submission(
        lambda claim: submit_generation(services(), caller(), generation, claim),
        generation.async_,
        wait,
    )

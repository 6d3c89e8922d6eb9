"""GET /v1/jobs/<job_id>: the job's status, progress and result (seed 004's GetImageJobResponse)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from app import services
from app.auth import require_api_key
from app.serializers import get_job_response
from imagegen import errors
from imagegen.errors import ServiceError

bp = Blueprint("jobs", __name__, url_prefix="/v1")
bp.before_request(require_api_key)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> ResponseReturnValue:
    svc = services()
    # Another tenant's job is indistinguishable from a missing one.
    job = svc.repository.get_job(g.tenant_id, job_id)
    if job is None:
        raise ServiceError(errors.NOT_FOUND, f"no job {job_id}")
    images = svc.repository.get_images(g.tenant_id, job.image_ids)
    return jsonify(get_job_response(job, images, svc.blobs))

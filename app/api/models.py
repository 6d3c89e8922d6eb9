"""GET /v1/models: every model and what it can do."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from app.auth import require_api_key
from app.context import services
from imagegen import catalog, errors
from imagegen.errors import ServiceError
from imagegen.model_lifecycle import describe

bp = Blueprint("models", __name__, url_prefix="/v1")
bp.before_request(require_api_key)


@bp.get("/models")
def list_models() -> ResponseReturnValue:
    svc = services()
    quotas = svc.budget.describe(list(catalog.MODELS))
    return jsonify(
        {
            "models": [
                {
                    **spec.describe(),
                    "lifecycle": describe(svc.lifecycle.of(spec.model_id)),
                    "quota": quotas[spec.model_id],
                }
                for spec in catalog.MODELS.values()
            ],
            "aliases": [
                {"alias": alias, "model_id": target, "note": catalog.resolve(alias)[1]}
                for alias, target in catalog.ALIASES.items()
            ],
        }
    )


@bp.get("/models/<path:model_id>")
def get_model(model_id: str) -> ResponseReturnValue:
    spec, _ = catalog.resolve(model_id)
    if spec is None:
        raise ServiceError(errors.NOT_FOUND, f"no model {model_id!r}")
    svc = services()
    quota = svc.budget.describe([spec.model_id])[spec.model_id]
    lifecycle = describe(svc.lifecycle.of(spec.model_id))
    return jsonify({**spec.describe(), "lifecycle": lifecycle, "quota": quota})

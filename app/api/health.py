"""Health check for the load balancer: the database and Redis must answer."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from app.context import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def health() -> ResponseReturnValue:
    checks = {}
    svc = services()
    try:
        svc.repository.find_api_key("health-check")
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "unavailable"
    try:
        svc.redis.ping()
        checks["redis"] = "ok"
    except Exception:
        checks["redis"] = "unavailable"
    healthy = all(value == "ok" for value in checks.values())
    return jsonify({"status": "ok" if healthy else "unavailable", "checks": checks}), (
        200 if healthy else 503
    )

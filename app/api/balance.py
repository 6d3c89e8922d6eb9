"""The caller's tenant's credits (balance and what its jobs hold) and the limits that apply
to it (imagegen.credits)."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from app.auth import require_api_key
from app.context import caller, services
from imagegen.credits import tenant_balance

bp = Blueprint("balance", __name__, url_prefix="/v1")
bp.before_request(require_api_key)


@bp.get("/balance")
def get_balance() -> ResponseReturnValue:
    found = tenant_balance(services(), caller())
    return jsonify(
        {
            **asdict(found.credits),
            "limits": asdict(found.limits),
            "storage_used_bytes": found.storage_used_bytes,
        }
    )

"""GET /v1/webhooks/secret: the caller's webhook signing secret, to verify our webhooks with.

Each tenant's secret is derived from the service's IMAGEGEN_WEBHOOK_SIGNING_SECRET, so
nothing secret is stored per tenant; changing that setting changes every tenant's secret.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from app.auth import require_api_key
from app.context import caller, services
from imagegen.webhooks.signing import tenant_secret

bp = Blueprint("webhooks", __name__, url_prefix="/v1")
bp.before_request(require_api_key)


@bp.get("/webhooks/secret")
def get_secret() -> ResponseReturnValue:
    response = jsonify(
        {
            "secret": tenant_secret(services().webhook_master_secret, caller().tenant_id),
            "scheme": "standard-webhooks-v1",
            "signature_headers": ["webhook-id", "webhook-timestamp", "webhook-signature"],
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response

"""What a request handler works with: the app's adapters and who is calling."""

from __future__ import annotations

from flask import current_app, g

from imagegen.caller import Caller
from imagegen.services import Services


def services() -> Services:
    """The adapters of the current app (built by create_app)."""
    found: Services = current_app.extensions["imagegen"]
    return found


def caller() -> Caller:
    """The authenticated caller of this request (set by app.auth.require_api_key)."""
    return Caller(tenant_id=g.tenant_id, user_id=g.user_id, request_id=g.request_id)

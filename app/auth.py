"""Bearer API-key authentication for the /v1 blueprints."""

from __future__ import annotations

from flask import current_app, g, request

from app.context import caller, services
from imagegen import errors, keys, logs
from imagegen.admission import admit_request, refuse_over_limit
from imagegen.errors import ServiceError


def require_api_key() -> None:
    """before_request hook: sets g.tenant_id and g.user_id, or answers 401; then counts the
    request against its tenant's request limit (429 when over it; app.rate_limit_fields
    reports the limit on the response either way)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ServiceError(
            errors.UNAUTHENTICATED, "an API key is required: Authorization: Bearer <key>"
        )
    api_key = _verified_keys().authenticate(token.strip())
    if api_key is None:
        raise ServiceError(errors.UNAUTHENTICATED, "the API key is not valid")
    g.tenant_id = api_key.tenant_id
    g.user_id = api_key.user_id
    # Unbound with the request id at teardown, in reverse order.
    g.log_binding = [*g.get("log_binding", []), *logs.bind(tenant_id=api_key.tenant_id)]
    g.rate_limit = admit_request(services(), caller())
    refuse_over_limit(g.rate_limit)


_KEY_CACHE = "imagegen.keys"


def _verified_keys() -> keys.KeyCache:
    """The app's cache of verified keys (imagegen.keys.KeyCache: a removed key is refused
    within KEY_CACHE_TTL_SECONDS), made on the first request."""
    found: keys.KeyCache | None = current_app.extensions.get(_KEY_CACHE)
    if found is None:
        found = current_app.extensions.setdefault(_KEY_CACHE, keys.KeyCache(services().repository))
    return found

"""The Idempotency-Key header on the POSTs that create work (generations, edits, batches).

A client that did not get an answer (a timeout, a dropped connection) sends the same request
again with the same key and gets the answer about the same job, never a second job. The key
is bound to a fingerprint of the request (method, path and body, compared as parsed JSON or
as form fields and file digests); the same key with another request is refused (409). The
binding is written in the same transaction as the job, so of two identical requests racing,
one creates the job and the other answers with it. Keys are kept per tenant for
IMAGEGEN_IDEMPOTENCY_TTL_SECONDS.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from flask import g, request

from app.context import services
from app.json_body import json_body
from imagegen import errors
from imagegen.errors import ServiceError
from imagegen.records import IdempotencyClaim, IdempotencyKey, utc_timestamp

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_MAX_KEY_CHARS = 255


def requested_key() -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= _MAX_KEY_CHARS or not key.isprintable() or not key.isascii():
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"{HEADER} must be 1-{_MAX_KEY_CHARS} printable ASCII characters",
            {"parameter": HEADER},
        )
    return key


def fingerprint() -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    if request.mimetype == "multipart/form-data":
        fields = sorted(
            (name, value) for name in request.form for value in request.form.getlist(name)
        )
        files = []
        for name in sorted(request.files):
            for file in request.files.getlist(name):
                files.append((name, hashlib.sha256(file.stream.read()).hexdigest()))
                file.stream.seek(0)
        digest.update(json.dumps([fields, files]).encode())
    else:
        body = json_body()
        if body is None:
            digest.update(request.get_data(cache=True))
        else:
            digest.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


def seen_before() -> IdempotencyKey | None:
    """The binding of this request's key, if it has one already; 409 if for another request.

    Also remembers the key for claim(), so the request is fingerprinted once.
    """
    key = requested_key()
    g.idempotency = None
    if key is None:
        return None
    now = datetime.now(UTC)
    g.idempotency = IdempotencyClaim(key, fingerprint(), now)
    existing = services().repository.find_idempotency_key(g.tenant_id, key, utc_timestamp(now))
    if existing is not None:
        check_same_request(existing)
    return existing


def claim() -> IdempotencyClaim | None:
    """This request's key and fingerprint, for the use case to bind to what it creates
    (None without a key). seen_before() must have run first."""
    found: IdempotencyClaim | None = g.get("idempotency")
    return found


def check_same_request(existing: IdempotencyKey) -> None:
    if existing.request_hash != g.idempotency.request_hash:
        raise_conflict(existing)


def raise_conflict(existing: IdempotencyKey) -> None:
    raise ServiceError(
        errors.INVALID_PARAMETERS,
        f"{HEADER} {existing.key!r} was already used with a different request; "
        "use a new key for a new request",
        {"parameter": HEADER, "resource_id": existing.resource_id},
        status=409,
    )

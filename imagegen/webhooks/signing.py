"""Standard Webhooks signatures (https://www.standardwebhooks.com/) plus the seed's in-body
`signature` field, so receivers can verify with any Standard Webhooks library or by hand."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

SECRET_PREFIX = "whsec_"
_TENANT_SECRET_LABEL = b"imagegen-webhook-secret:"


def tenant_secret(master_secret: str, tenant_id: str) -> str:
    """The tenant's signing secret, derived from the master secret so there is nothing to store
    or rotate per tenant: rotating the master rotates every tenant's secret."""
    digest = hmac.new(
        master_secret.encode(), _TENANT_SECRET_LABEL + tenant_id.encode(), hashlib.sha256
    ).digest()
    return SECRET_PREFIX + base64.b64encode(digest).decode("ascii")


def signature_key(secret: str) -> bytes:
    """The HMAC key inside a `whsec_` secret; refuses anything else rather than signing with a
    key the receiver's library would decode differently."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error as exc:
        raise ValueError("a webhook secret is base64 after its prefix") from exc
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: HMAC-SHA256 over `{id}.{timestamp}.{body}`."""
    message = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(signature_key(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The request headers Standard Webhooks receivers check."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def _canonical(payload: dict[str, Any]) -> bytes:
    unsigned = {key: value for key, value in payload.items() if key != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def body_signature(secret: str, payload: dict[str, Any]) -> str:
    """The seed's in-body `signature` field, for receivers that only see the parsed JSON.

    Lowercase hex HMAC-SHA256 with key = signature_key(secret) over the payload without any
    `signature` key, serialized as
    `json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
    encoded as UTF-8. Sorting the keys makes it independent of the order on the wire.
    """
    return hmac.new(signature_key(secret), _canonical(payload), hashlib.sha256).hexdigest()


def encode_event(secret: str, payload: dict[str, Any]) -> bytes:
    """The body to send: the payload in its given key order with `signature` added last."""
    signed = {key: value for key, value in payload.items() if key != "signature"}
    signed["signature"] = body_signature(secret, payload)
    return json.dumps(signed, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def verify_body_signature(secret: str, body: bytes) -> bool:
    """Whether a received body carries a valid in-body `signature` (the receiver's side)."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    if not isinstance(payload, dict):
        return False
    claimed = payload.pop("signature", None)
    if not isinstance(claimed, str):
        return False
    return hmac.compare_digest(claimed, body_signature(secret, payload))

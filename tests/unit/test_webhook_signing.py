"""Webhook signatures, checked against the real `standardwebhooks` receiver library."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from imagegen.webhooks import signing

SECRET = signing.tenant_secret("master-secret-for-tests", "tenant_a")
PAYLOAD = {
    "event": "job.completed",
    "job_id": "job_123",
    "status": "completed",
    "images": [{"image_id": "img_1", "url": "https://files.example.test/a.png"}],
    "prompt": "un phare à l'aube",
}


def signed(secret: str = SECRET, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    body = signing.encode_event(secret, PAYLOAD)
    when = int(time.time()) if timestamp is None else timestamp
    return body, signing.headers(secret, "msg_abc", when, body)


def test_a_signed_message_verifies_with_the_standard_webhooks_library():
    body, headers = signed()
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)
    assert headers["webhook-id"] == "msg_abc"
    assert headers["content-type"] == "application/json"
    assert headers["webhook-signature"].startswith("v1,")


def test_a_tampered_body_fails_verification():
    body, headers = signed()
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"job_123", b"job_124"), headers)


def test_a_changed_message_id_fails_verification():
    body, headers = signed()
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, {**headers, "webhook-id": "msg_other"})


def test_another_tenants_secret_fails_verification():
    body, headers = signed()
    other = signing.tenant_secret("master-secret-for-tests", "tenant_b")
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)


def test_an_old_timestamp_fails_verification():
    body, headers = signed(timestamp=int(time.time()) - 3600)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRET).verify(body, headers)


def test_tenant_secret_is_deterministic_per_master_and_tenant():
    assert signing.tenant_secret("m", "tenant_a") == signing.tenant_secret("m", "tenant_a")
    assert signing.tenant_secret("m", "tenant_a") != signing.tenant_secret("m", "tenant_b")
    assert signing.tenant_secret("m", "tenant_a") != signing.tenant_secret("n", "tenant_a")


def test_tenant_secret_is_whsec_and_32_bytes_of_base64():
    secret = signing.tenant_secret("m", "tenant_a")
    assert secret.startswith("whsec_")
    encoded = secret.removeprefix("whsec_")
    assert len(encoded) == 44
    assert len(base64.b64decode(encoded, validate=True)) == 32
    assert signing.signature_key(secret) == base64.b64decode(encoded)


def test_body_signature_follows_its_documented_definition():
    canonical = json.dumps(PAYLOAD, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = hmac.new(
        signing.signature_key(SECRET), canonical.encode("utf-8"), hashlib.sha256
    ).hexdigest()
    assert signing.body_signature(SECRET, PAYLOAD) == expected
    assert signing.body_signature(SECRET, {**PAYLOAD, "signature": "whatever"}) == expected


def test_body_signature_does_not_depend_on_key_order():
    reordered = dict(reversed(list(PAYLOAD.items())))
    assert signing.body_signature(SECRET, reordered) == signing.body_signature(SECRET, PAYLOAD)


@pytest.mark.parametrize(
    "change",
    [
        {"event": "job.failed"},
        {"job_id": "job_124"},
        {"images": []},
        {"prompt": "un phare à l'aube."},
        {"extra": None},
    ],
)
def test_body_signature_changes_when_any_field_changes(change):
    assert signing.body_signature(SECRET, {**PAYLOAD, **change}) != signing.body_signature(
        SECRET, PAYLOAD
    )


def test_encode_event_keeps_key_order_and_appends_the_signature():
    body = signing.encode_event(SECRET, {**PAYLOAD, "signature": "stale"})
    decoded = json.loads(body)
    assert list(decoded) == [*PAYLOAD, "signature"]
    assert decoded["signature"] == signing.body_signature(SECRET, PAYLOAD)
    assert "à".encode() in body  # ensure_ascii=False: UTF-8 on the wire, not \u escapes
    assert b", " not in body and b": " not in body


def test_verify_body_signature_round_trip_and_tampering():
    body = signing.encode_event(SECRET, PAYLOAD)
    assert signing.verify_body_signature(SECRET, body)
    assert not signing.verify_body_signature(SECRET, body.replace(b"job_123", b"job_124"))
    other = signing.tenant_secret("master-secret-for-tests", "tenant_b")
    assert not signing.verify_body_signature(other, body)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"event": "x"}', b'{"event": "x", "signature": 5}', b"\xff"],
)
def test_verify_body_signature_rejects_bodies_without_a_usable_signature(body):
    assert not signing.verify_body_signature(SECRET, body)


@pytest.mark.parametrize(
    "secret",
    ["", "c2VjcmV0", "whsec_", "whsec_not base64!", "whsec_abc", "WHSEC_c2VjcmV0"],
)
def test_signature_key_rejects_bad_secrets(secret):
    with pytest.raises(ValueError):
        signing.signature_key(secret)

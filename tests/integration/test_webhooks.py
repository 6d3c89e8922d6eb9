"""Webhooks through the real stack: signed the Standard Webhooks way (verified here with the
`standardwebhooks` package), the seed's body, retries with one id, the delivery log, and the
address checks that keep webhooks from reaching internal services."""

from __future__ import annotations

import json
import socket
import uuid
from urllib.parse import urlsplit

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from imagegen.webhooks.destinations import system_resolver
from imagegen.webhooks.signing import verify_body_signature
from tests.conftest import WEBHOOK_CLOSED_PORT, Stack, wait_until
from tests.integration.webhook_receiver import Receiver

NOVA = "amazon.nova-canvas-v1:0"
SDXL = "stability.stable-diffusion-xl-v1"


def _path() -> str:
    return f"/hooks/{uuid.uuid4().hex}"


@pytest.fixture
def secret(api) -> str:
    body = api.request("GET", "/v1/webhooks/secret").json()
    assert body["secret"].startswith("whsec_")
    return body["secret"]


def _verified(secret: str, delivery) -> dict:
    event = Webhook(secret).verify(delivery.body, delivery.headers)
    assert verify_body_signature(secret, delivery.body)
    return event


def test_a_completed_job_sends_a_signed_seed_shaped_event(api, receiver: Receiver, secret):
    path = _path()
    job_id = api.generate(
        {"prompt": "a harbour at noon", "model": SDXL, "n": 2, "seed": 11, "async": True,
         "webhook_url": receiver.url(path)}
    ).json()["job_id"]  # fmt: skip
    [delivery] = receiver.wait_for(path, 1)
    event = _verified(secret, delivery)
    assert event["event"] == "image.generation.completed"
    assert event["timestamp"].endswith("Z")
    data = event["data"]
    assert (data["job_id"], data["tenant_id"], data["user_id"]) == (job_id, "tenant-a", "alice")
    assert data["status"] == "completed"
    assert sorted(image["metadata"]["seed"] for image in data["images"]) == [11, 12]
    assert api.fetch(data["images"][0]["url"]).status_code == 200
    assert delivery.headers["webhook-id"].startswith("msg_")
    assert delivery.headers["content-type"] == "application/json"

    wait_until(lambda: api.job(job_id).json()["job"]["webhook_delivered"], what="delivered flag")
    log = api.request("GET", f"/v1/jobs/{job_id}/webhook-deliveries").json()["deliveries"]
    assert [(d["attempt"], d["status_code"], d["delivered"]) for d in log] == [(1, 200, True)]
    assert log[0]["webhook_id"] == delivery.headers["webhook-id"]


def test_a_failed_job_sends_its_error(api, receiver: Receiver, secret):
    path = _path()
    api.generate(
        {"prompt": "trigger-error", "model": NOVA, "async": True, "webhook_url": receiver.url(path)}
    )
    [delivery] = receiver.wait_for(path, 1)
    event = _verified(secret, delivery)
    assert event["event"] == "image.generation.failed"
    assert event["data"]["error"]["code"] == "IMG201"
    assert "images" not in event["data"]


def test_a_refused_delivery_is_retried_with_the_same_id_until_a_2xx(api, receiver, secret):
    path = _path()
    receiver.answer(path, 500, 503, 200)
    job_id = api.generate(
        {"prompt": "a pier", "model": NOVA, "async": True, "webhook_url": receiver.url(path)}
    ).json()["job_id"]
    deliveries = receiver.wait_for(path, 3)
    assert len({d.headers["webhook-id"] for d in deliveries}) == 1
    assert len({d.body for d in deliveries}) == 1  # the same body every time
    for delivery in deliveries:
        _verified(secret, delivery)  # each attempt is signed with its own timestamp
    wait_until(lambda: api.job(job_id).json()["job"]["webhook_delivered"], what="delivered flag")
    log = api.request("GET", f"/v1/jobs/{job_id}/webhook-deliveries").json()["deliveries"]
    assert [(d["attempt"], d["status_code"], d["delivered"]) for d in log] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]


def test_delivery_gives_up_after_the_last_attempt_and_says_so(api, receiver, secret):
    path = _path()
    receiver.answer(path, 500)
    job_id = api.generate(
        {"prompt": "a dune", "model": NOVA, "async": True, "webhook_url": receiver.url(path)}
    ).json()["job_id"]
    receiver.wait_for(path, 4)  # IMAGEGEN_WEBHOOK_MAX_ATTEMPTS in the test stack

    def logged() -> list:
        return api.request("GET", f"/v1/jobs/{job_id}/webhook-deliveries").json()["deliveries"]

    wait_until(lambda: len(logged()) == 4, what="four logged attempts")
    assert [d["delivered"] for d in logged()] == [False] * 4
    assert api.job(job_id).json()["job"]["webhook_delivered"] is False
    wait_until(lambda: len(receiver.deliveries(path)) == 4, timeout=3, what="no fifth attempt")
    assert len(receiver.deliveries(path)) == 4


def test_a_receiver_that_is_down_is_logged_as_an_error(api, receiver):
    # Nothing listens on this allowlisted port: the attempts fail to connect, logged as such.
    job_id = api.generate(
        {"prompt": "a cliff", "model": NOVA, "async": True,
         "webhook_url": f"http://127.0.0.1:{WEBHOOK_CLOSED_PORT}/gone"}
    ).json()["job_id"]  # fmt: skip

    def logged() -> list:
        return api.request("GET", f"/v1/jobs/{job_id}/webhook-deliveries").json()["deliveries"]

    wait_until(lambda: len(logged()) >= 1, what="a logged attempt")
    first = logged()[0]
    assert first["status_code"] is None and first["error"]


def test_a_wrong_secret_does_not_verify(api, receiver, secret):
    path = _path()
    api.generate(
        {"prompt": "a cove", "model": NOVA, "async": True, "webhook_url": receiver.url(path)}
    )
    [delivery] = receiver.wait_for(path, 1)
    other = "whsec_" + "A" * 43 + "="
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(delivery.body, delivery.headers)
    tampered = delivery.body.replace(b"completed", b"c0mpleted")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, delivery.headers)


def test_a_webhook_to_localhost_reaches_a_receiver_listening_on_ipv4_only(api, receiver, secret):
    # The receiver listens on 127.0.0.1 alone. Where the resolver answers localhost with ::1
    # first (Docker's /etc/hosts, macOS, Fedora), that first address refuses the connection
    # and the delivery must go on to 127.0.0.1 rather than fail on every attempt.
    assert "127.0.0.1" in system_resolver("localhost", receiver.port)
    with socket.socket(socket.AF_INET6) as probe:
        assert probe.connect_ex(("::1", receiver.port)) != 0
    path = _path()
    job_id = api.generate(
        {"prompt": "a jetty", "model": NOVA, "async": True,
         "webhook_url": f"http://localhost:{receiver.port}{path}"}
    ).json()["job_id"]  # fmt: skip
    [delivery] = receiver.wait_for(path, 1)
    assert _verified(secret, delivery)["data"]["job_id"] == job_id
    assert delivery.headers["host"] == f"localhost:{receiver.port}"
    wait_until(lambda: api.job(job_id).json()["job"]["webhook_delivered"], what="delivered flag")
    log = api.request("GET", f"/v1/jobs/{job_id}/webhook-deliveries").json()["deliveries"]
    assert [(d["attempt"], d["status_code"], d["delivered"]) for d in log] == [(1, 200, True)]


def _own_ports(stack: Stack) -> dict[str, int]:
    return {
        "redis": urlsplit(stack.env["IMAGEGEN_REDIS_URL"]).port or 6379,
        "model endpoint": urlsplit(stack.model_endpoint).port or 80,
        "api": urlsplit(stack.base_url).port or 80,
    }


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_an_allowlisted_host_on_the_services_own_ports_is_refused(api, host, model_calls):
    for service, port in _own_ports(api.stack).items():
        response = api.generate(
            {"prompt": "a bay", "model": NOVA, "async": True,
             "webhook_url": f"http://{host}:{port}/x"}
        )  # fmt: skip
        assert response.status_code == 400, service
        error = response.json()["error"]
        assert (error["code"], error["details"]["parameter"]) == ("IMG302", "webhook_url")
        assert "loopback" in error["message"], service
    assert model_calls() == []


def test_each_tenant_has_its_own_secret(api, other_api, secret):
    theirs = other_api.request("GET", "/v1/webhooks/secret").json()["secret"]
    assert theirs != secret
    assert api.request("GET", "/v1/webhooks/secret").json()["secret"] == secret


FORBIDDEN = [
    "http://localhost:9/x",  # an allowlisted host, but not on this port
    "http://127.0.0.2/x",
    "http://[::1]/x",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/x",
    "http://[fe80::1]/x",
    "http://10.0.0.1/x",
    "http://172.16.0.1/x",
    "http://192.168.1.1/x",
    "http://[fc00::1]/x",
    "http://100.64.0.1/x",
    "http://0.0.0.0/x",
    "http://224.0.0.1/x",
    "http://240.0.0.1/x",
    "http://255.255.255.255/x",
    "http://[::ffff:10.0.0.1]/x",
    "http://2130706434/x",  # 127.0.0.2 as one number
    "http://user:secret@127.0.0.1/x",
    "ftp://127.0.0.1/x",
    "not a url",
]


@pytest.mark.parametrize("url", FORBIDDEN)
def test_webhooks_to_internal_addresses_are_refused_at_creation(api, url, model_calls):
    response = api.generate({"prompt": "a bay", "model": NOVA, "async": True, "webhook_url": url})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "IMG302"
    assert error["details"]["parameter"] == "webhook_url"
    assert model_calls() == []  # nothing was queued


def test_an_edit_and_a_batch_check_their_webhook_urls_too(api):
    edit = api.request(
        "POST",
        "/v1/images/edits",
        json={"task": "remove_background", "image_id": "img_" + "0" * 32,
              "webhook_url": "http://169.254.169.254/"},
    )  # fmt: skip
    assert edit.status_code == 400 and edit.json()["error"]["details"]["parameter"] == "webhook_url"
    batch = api.request(
        "POST",
        "/v1/batches",
        json={"requests": [{"prompt": "a"}], "webhook_url": "http://10.1.1.1/"},
    )
    assert batch.status_code == 400
    assert batch.json()["error"]["details"]["parameter"] == "webhook_url"


def test_the_service_keeps_serving_after_refusals(api):
    assert api.generate({"prompt": "a bay", "model": NOVA}).status_code == 200
    assert json.loads(api.request("GET", "/healthz").text)["status"] == "ok"

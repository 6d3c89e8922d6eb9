"""Idempotency-Key on the POSTs that create work: a repeated request never makes a second job."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid

import pytest

from tests.integration.images import encode, scene

NOVA = "amazon.nova-canvas-v1:0"


def _key() -> str:
    return "key-" + uuid.uuid4().hex


def _jobs_with_request_body(stack, prompt: str) -> int:
    with sqlite3.connect(stack.data_dir / "imagegen.sqlite3") as db:
        return db.execute(
            "SELECT COUNT(*) FROM jobs WHERE request_json LIKE ?", (f"%{prompt}%",)
        ).fetchone()[0]


def test_the_same_key_and_body_answer_about_the_first_job(api, stack, model_calls):
    key, prompt = _key(), f"a kite {uuid.uuid4().hex}"
    body = {"prompt": prompt, "model": NOVA, "async": True}
    first = api.generate(body, headers={"Idempotency-Key": key})
    assert first.status_code == 202
    again = api.generate(body, headers={"Idempotency-Key": key})
    assert again.status_code == 202
    assert again.json()["job_id"] == first.json()["job_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    api.wait_for_job(first.json()["job_id"])
    assert _jobs_with_request_body(stack, prompt) == 1
    # Only this prompt's calls: a job an earlier test left running may call the model too.
    assert len([c for c in model_calls() if prompt in json.dumps(c["body"])]) == 1


def test_a_repeated_synchronous_request_gets_the_finished_result(api):
    key = _key()
    body = {"prompt": f"a mill {uuid.uuid4().hex}", "model": NOVA}
    first = api.generate(body, headers={"Idempotency-Key": key})
    assert first.status_code == 200
    again = api.generate(body, headers={"Idempotency-Key": key})
    assert again.status_code == 200
    assert [i["image_id"] for i in again.json()["images"]] == [
        i["image_id"] for i in first.json()["images"]
    ]


def test_key_order_and_whitespace_do_not_make_another_request(api):
    key = _key()
    first = api.request(
        "POST",
        "/v1/images/generations",
        data='{"prompt": "a barn", "async": true}',
        headers={"Idempotency-Key": key, "Content-Type": "application/json"},
    )
    again = api.request(
        "POST",
        "/v1/images/generations",
        data='{"async":true,"prompt":"a barn"}',
        headers={"Idempotency-Key": key, "Content-Type": "application/json"},
    )
    assert again.json()["job_id"] == first.json()["job_id"]


def test_the_same_key_with_another_body_is_a_conflict(api):
    key = _key()
    api.generate({"prompt": "a kiln", "async": True}, headers={"Idempotency-Key": key})
    response = api.generate({"prompt": "a forge", "async": True}, headers={"Idempotency-Key": key})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "IMG302"
    assert error["details"]["parameter"] == "Idempotency-Key"


def test_the_same_key_on_another_route_is_a_conflict(api):
    key = _key()
    api.generate({"prompt": "a kiln", "async": True}, headers={"Idempotency-Key": key})
    response = api.request(
        "POST",
        "/v1/batches",
        json={"requests": [{"prompt": "a kiln"}]},
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 409


def test_keys_belong_to_their_tenant(api, other_api):
    key = _key()
    body = {"prompt": "a dock", "async": True}
    mine = api.generate(body, headers={"Idempotency-Key": key}).json()["job_id"]
    theirs = other_api.generate(body, headers={"Idempotency-Key": key}).json()["job_id"]
    assert mine != theirs


def test_two_identical_requests_at_once_create_one_job(api, stack):
    key, prompt = _key(), f"a race {uuid.uuid4().hex}"
    body = {"prompt": prompt, "model": NOVA, "async": True}
    barrier = threading.Barrier(8)
    answers: list = []

    def send() -> None:
        barrier.wait()
        answers.append(api.generate(body, headers={"Idempotency-Key": key}))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [202] * 8
    assert len({a.json()["job_id"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 7
    assert _jobs_with_request_body(stack, prompt) == 1


def test_an_edit_is_idempotent_too(api):
    png = encode(scene((512, 512)))
    upload = api.request("POST", "/v1/uploads", files={"file": ("a.png", png, "image/png")}).json()
    body = {"task": "remove_background", "image_id": upload["image_id"], "async": True}
    key = _key()
    first = api.request("POST", "/v1/images/edits", json=body, headers={"Idempotency-Key": key})
    again = api.request("POST", "/v1/images/edits", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202
    assert again.json()["job_id"] == first.json()["job_id"]


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_unusable_keys_are_refused(api, key):
    response = api.generate({"prompt": "a pond", "async": True}, headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["parameter"] == "Idempotency-Key"

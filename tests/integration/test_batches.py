"""Batches: many requests as one, each its own job; counts per status; webhooks per job and one
for the batch; refused whole when any request is bad."""

from __future__ import annotations

import sqlite3
import time
import uuid

from standardwebhooks import Webhook

from tests.conftest import wait_until
from tests.integration.images import encode, scene

NOVA = "amazon.nova-canvas-v1:0"
TITAN_V2 = "amazon.titan-image-generator-v2:0"


def _wait_for_batch(api, batch_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.request("GET", f"/v1/batches/{batch_id}").json()
        if body["status"] == "completed":
            return body
        time.sleep(0.1)
    raise TimeoutError(f"batch {batch_id} did not complete")


def _upload(api) -> str:
    png = encode(scene((512, 512)))
    response = api.request("POST", "/v1/uploads", files={"file": ("a.png", png, "image/png")})
    return response.json()["image_id"]


def test_a_mixed_batch_runs_every_request_and_reports_once_done(api, receiver):
    path = f"/hooks/{uuid.uuid4().hex}"
    image_id = _upload(api)
    response = api.request(
        "POST",
        "/v1/batches",
        json={
            "webhook_url": receiver.url(path),
            "priority": 7,
            "requests": [
                {"prompt": "a red fox", "model": NOVA, "n": 2},
                {"prompt": "a blue heron", "model": TITAN_V2, "priority": 2},
                {"prompt": "trigger-error", "model": NOVA},
                {"type": "edit", "task": "remove_background", "image_id": image_id,
                 "model": NOVA},
            ],
        },
    )  # fmt: skip
    assert response.status_code == 202
    batch = response.json()
    assert response.headers["Location"] == f"/v1/batches/{batch['batch_id']}"
    assert batch["total"] == 4 and len(batch["job_ids"]) == 4
    assert batch["status"] in ("pending", "processing")

    done = _wait_for_batch(api, batch["batch_id"])
    assert done["counts"] == {
        "pending": 0, "processing": 0, "completed": 3, "failed": 1, "cancelled": 0
    }  # fmt: skip
    assert done["completed_at"] is not None
    jobs = [api.job(job_id).json()["job"] for job_id in done["job_ids"]]
    assert [job["priority"] for job in jobs] == [7, 2, 7, 7]
    assert [len(job.get("result", {}).get("images", [])) for job in jobs] == [2, 1, 0, 1]

    # One webhook per job, then one for the batch, all signed with the tenant's secret.
    deliveries = receiver.wait_for(path, 5)
    secret = api.request("GET", "/v1/webhooks/secret").json()["secret"]
    events = [Webhook(secret).verify(d.body, d.headers) for d in deliveries]
    by_event = sorted(event["event"] for event in events)
    assert by_event == ["image.batch.completed"] + ["image.generation.completed"] * 3 + [
        "image.generation.failed"
    ]
    [batch_event] = [e for e in events if e["event"] == "image.batch.completed"]
    assert batch_event["data"]["batch_id"] == batch["batch_id"]
    assert batch_event["data"]["counts"]["failed"] == 1
    assert all(
        e["data"]["batch_id"] == batch["batch_id"]
        for e in events
        if e["event"] != "image.batch.completed"
    )
    wait_until(
        lambda: api.request("GET", f"/v1/batches/{batch['batch_id']}").json()["webhook_delivered"],
        what="the batch's webhook recorded as delivered",
    )
    log = api.request("GET", f"/v1/batches/{batch['batch_id']}/webhook-deliveries").json()
    assert [d["event"] for d in log["deliveries"]] == ["image.batch.completed"]


def test_a_batch_with_one_bad_request_is_refused_whole(api, stack):
    before = _job_count(stack)
    response = api.request(
        "POST",
        "/v1/batches",
        json={"requests": [{"prompt": "fine"}, {"prompt": "fine too"}, {"prompt": ""}]},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "IMG001"
    assert error["details"]["index"] == 2
    assert error["message"].startswith("requests[2]: ")
    assert _job_count(stack) == before


def test_a_bad_edit_in_a_batch_stores_no_upload(api, stack):
    from tests.integration.images import b64

    before = _image_count(stack)
    response = api.request(
        "POST",
        "/v1/batches",
        json={
            "requests": [
                {"type": "edit", "task": "remove_background", "model": NOVA,
                 "input_image_base64": b64(encode(scene((512, 512))))},
                {"type": "edit", "task": "remove_background", "model": NOVA,
                 "input_image_base64": "not base64!"},
            ]
        },
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"]["details"]["index"] == 1
    assert _image_count(stack) == before


def test_batch_limits_and_shapes(api, stack):
    limit = 50  # IMAGEGEN_MAX_BATCH_REQUESTS's default
    too_many = api.request(
        "POST", "/v1/batches", json={"requests": [{"prompt": "x"}] * (limit + 1)}
    )
    assert too_many.status_code == 400
    assert too_many.json()["error"]["details"]["limit"] == limit
    for body, parameter in [
        ({"requests": []}, "requests"),
        ({"requests": [{"prompt": "x", "async": False}]}, "async"),
        ({"requests": [{"type": "video", "prompt": "x"}]}, "type"),
        ({"requests": [{"prompt": "x"}], "priority": 0}, "priority"),
    ]:
        response = api.request("POST", "/v1/batches", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["details"]["parameter"] == parameter
    unknown = api.request("POST", "/v1/batches", json={"requests": [{"prompt": "x"}], "n": 2})
    assert unknown.status_code == 400


def test_cancelling_a_batch_cancels_what_has_not_finished(api):
    response = api.request(
        "POST",
        "/v1/batches",
        json={"requests": [{"prompt": "trigger-slow", "model": NOVA}] * 4, "priority": 1},
    )
    batch_id = response.json()["batch_id"]
    cancelled = api.request("POST", f"/v1/batches/{batch_id}/cancel").json()
    assert cancelled["status"] == "completed"
    assert cancelled["counts"]["cancelled"] == 4 - cancelled["counts"]["completed"]
    assert cancelled["counts"]["pending"] == cancelled["counts"]["processing"] == 0


def test_another_tenants_batch_is_not_found(api, other_api):
    batch_id = api.request(
        "POST", "/v1/batches", json={"requests": [{"prompt": "a gull", "model": NOVA}]}
    ).json()["batch_id"]
    assert other_api.request("GET", f"/v1/batches/{batch_id}").status_code == 404
    assert other_api.request("POST", f"/v1/batches/{batch_id}/cancel").status_code == 404
    assert api.request("GET", f"/v1/batches/{batch_id}").status_code == 200


def test_a_batch_is_idempotent(api, stack):
    key = "batch-" + uuid.uuid4().hex
    body = {"requests": [{"prompt": "a wren", "model": NOVA}] * 3}
    first = api.request("POST", "/v1/batches", json=body, headers={"Idempotency-Key": key})
    again = api.request("POST", "/v1/batches", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202
    assert again.json()["batch_id"] == first.json()["batch_id"]
    assert again.json()["job_ids"] == first.json()["job_ids"]
    assert again.headers["Idempotent-Replayed"] == "true"


def _job_count(stack) -> int:
    with sqlite3.connect(stack.data_dir / "imagegen.sqlite3") as db:
        return db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]


def _image_count(stack) -> int:
    with sqlite3.connect(stack.data_dir / "imagegen.sqlite3") as db:
        return db.execute("SELECT COUNT(*) FROM images").fetchone()[0]

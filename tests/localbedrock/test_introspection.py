"""/_local/requests records every call, elides base64, clears; stderr gets one line per call."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import boto3
import pytest
import requests

from localbedrock import Settings, create_app
from localbedrock.server import RECORD_LIMIT

NOVA = "amazon.nova-canvas-v1:0"
SD35 = "stability.sd3-5-large-v1:0"


def test_accepted_and_rejected_calls_are_recorded_newest_last(
    endpoint: Any, client: Any, invoke: Any, invoke_error: Any, body_for: Any
) -> None:
    endpoint.local("DELETE", "/_local/requests")
    invoke(SD35, body_for(SD35, "recorded", seed=4))
    invoke_error(SD35, {"prompt": "ok", "seed": -1}, "ValidationException")
    invoke_error("no.such-model", {"prompt": "x"}, "ValidationException")
    invoke_error(NOVA, body_for(NOVA, "trigger-timeout"), "ModelTimeoutException")

    calls = endpoint.recorded()

    assert [(c["model_id"], c["status"], c["error_type"]) for c in calls] == [
        (SD35, 200, None),
        (SD35, 400, "ValidationException"),
        ("no.such-model", 400, "ValidationException"),
        (NOVA, 408, "ModelTimeoutException"),
    ]
    assert calls[0]["body"] == {"prompt": "recorded", "seed": 4}
    assert calls[3]["body"] == body_for(NOVA, "trigger-timeout")
    assert all(c["request_id"] and c["latency_ms"] >= 0 for c in calls)


def test_long_base64_strings_are_elided(endpoint: Any, invoke_error: Any) -> None:
    endpoint.local("DELETE", "/_local/requests")
    image = base64.b64encode(bytes(range(256)) * 4).decode("ascii")  # 1024 bytes
    prompt = "a long prompt " * 30  # long, but not base64
    body = {
        "taskType": "INPAINTING",
        "inPaintingParams": {"image": image, "text": prompt, "maskPrompt": "windows"},
    }
    invoke_error(NOVA, body, "ValidationException", "image: decoded data is not a PNG or JPEG")

    [call] = endpoint.recorded()
    assert call["body"]["inPaintingParams"] == {
        "image": "<base64:1024 bytes>",
        "text": prompt,
        "maskPrompt": "windows",
    }


def test_unparseable_bodies_are_recorded_as_text(endpoint: Any, client: Any) -> None:
    endpoint.local("DELETE", "/_local/requests")
    with pytest.raises(client.exceptions.ValidationException):
        client.invoke_model(modelId=NOVA, body=b"{not json")
    assert endpoint.recorded()[-1]["body"] == "{not json"


def test_delete_clears_the_record(endpoint: Any, invoke: Any, body_for: Any) -> None:
    invoke(NOVA, body_for(NOVA, "to be cleared", seed=1))
    assert endpoint.local("DELETE", "/_local/requests")["cleared"] >= 1
    assert endpoint.recorded() == []


def test_only_the_last_500_calls_are_kept() -> None:
    http = create_app(Settings()).test_client()
    for index in range(RECORD_LIMIT + 5):
        http.post(f"/model/unknown-{index}/invoke", data="{}")

    calls = http.get("/_local/requests").get_json()["requests"]

    assert RECORD_LIMIT == 500
    assert len(calls) == RECORD_LIMIT
    assert calls[0]["model_id"] == "unknown-5"
    assert calls[-1]["model_id"] == f"unknown-{RECORD_LIMIT + 4}"


def test_stderr_has_one_json_line_per_call_without_images(
    endpoint: Any, client: Any, invoke: Any, body_for: Any
) -> None:
    result = client.invoke_model(modelId=NOVA, body=json.dumps(body_for(NOVA, "logged", seed=2)))
    request_id = result["ResponseMetadata"]["RequestId"]

    lines = [json.loads(line) for line in endpoint.log_path.read_text().splitlines()]

    [entry] = [line for line in lines if line.get("request_id") == request_id]
    assert entry == {
        "request_id": request_id,
        "time": entry["time"],
        "model": NOVA,
        "status": 200,
        "error_type": None,
        "latency_ms": entry["latency_ms"],
    }
    assert datetime.fromisoformat(entry["time"]).tzinfo is not None
    assert max(len(line) for line in endpoint.log_path.read_text().splitlines()) < 1000


def test_each_call_records_the_region_it_was_signed_for(endpoint: Any, body_for: Any) -> None:
    endpoint.local("DELETE", "/_local/requests")
    west = boto3.client(
        "bedrock-runtime",
        endpoint_url=endpoint.url,
        region_name="us-west-2",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    west.invoke_model(modelId=f"us.{SD35}", body=json.dumps(body_for(SD35, "west", seed=1)))
    endpoint.client().invoke_model(modelId=NOVA, body=json.dumps(body_for(NOVA, "east", seed=1)))
    unsigned = requests.post(f"{endpoint.url}/model/{NOVA}/invoke", json=body_for(NOVA, "x"))
    assert unsigned.status_code == 200

    assert [(c["model_id"], c["region"]) for c in endpoint.recorded()] == [
        (f"us.{SD35}", "us-west-2"),
        (NOVA, "us-east-1"),
        (NOVA, None),
    ]

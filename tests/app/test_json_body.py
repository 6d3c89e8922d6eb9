"""Reading a JSON body (app/json_body.py): which requests are JSON at all, the depth limit
to the level, which code a string that is not text gets by where in the document it is,
and the size limit of a body that comes without a Content-Length."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.app.conftest import MAX_REQUEST_BYTES, assert_error

GENERATIONS = "/v1/images/generations"
A_CAT = {"prompt": "a cat", "async": True}


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/merge-patch+json"]
)
def test_json_media_types_are_read_as_json(
    client: FlaskClient, auth: dict[str, str], content_type: str
) -> None:
    response = client.post(
        GENERATIONS, data=json.dumps(A_CAT), headers=auth, content_type=content_type
    )
    assert response.status_code == 202, response.get_json()


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_does_not_say_it_is_json_is_not_read_as_json(
    client: FlaskClient, auth: dict[str, str], content_type: str | None
) -> None:
    response = client.post(
        GENERATIONS, data=json.dumps(A_CAT), headers=auth, content_type=content_type
    )
    error = assert_error(response, 400, "IMG302")
    assert "Content-Type: application/json" in error["message"]


def test_an_empty_json_body_is_not_json(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.post(GENERATIONS, data=b"", headers=auth, content_type="application/json")
    error = assert_error(response, 400, "IMG302")
    assert error["message"].startswith("the request body is not valid JSON")


def _nested(levels: int) -> Any:
    """A request 'levels' deep: the object is one level, then lists in lists."""
    return {**A_CAT, "user_tags": json.loads("[" * (levels - 1) + "]" * (levels - 1))}


def test_sixteen_levels_are_read_and_seventeen_are_refused_as_too_deep(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    read = assert_error(client.post(GENERATIONS, json=_nested(16), headers=auth), 400, "IMG302")
    # Refused by the route, for what user_tags holds, not by the reader for its depth.
    assert "limit" not in read["details"] and "nests deeper" not in read["message"]

    deep = assert_error(client.post(GENERATIONS, json=_nested(17), headers=auth), 400, "IMG302")
    assert deep["details"] == {"limit": 16}


@pytest.mark.parametrize(
    ("path", "body", "code", "details"),
    [
        (
            "/v1/batches",
            {"requests": [{"prompt": "fine"}, {"prompt": "bad \ud800"}]},
            "IMG001",
            {"parameter": "requests[1].prompt", "prompt_issues": ["not valid text"]},
        ),
        (
            "/v1/batches",
            {"requests": [{"prompt": "fine", "negative_prompt": "nul \x00"}]},
            "IMG302",
            {"parameter": "requests[0].negative_prompt"},
        ),
        (
            "/v1/images/edits",
            {"task": "variation", "prompt": "p", "input_images_base64": ["AAAA", "\udfff"]},
            "IMG303",
            {"parameter": "input_images_base64[1]", "field": "input_images_base64[1]"},
        ),
        (
            GENERATIONS,
            {**A_CAT, "extend": {"left\x00": 1}},
            "IMG302",
            {"parameter": "extend.left\x00"},
        ),
        (
            GENERATIONS,
            {**A_CAT, "user_tags": ["ok", 1e999]},
            "IMG302",
            {"parameter": "user_tags[1]"},
        ),
    ],
    ids=["prompt-in-a-batch", "nul-in-a-batch", "image-in-a-list", "nested-key", "overflow"],
)
def test_a_string_that_is_not_text_is_refused_with_its_fields_code_and_path(
    client: FlaskClient,
    auth: dict[str, str],
    path: str,
    body: dict[str, Any],
    code: str,
    details: dict[str, Any],
) -> None:
    # json.dumps writes a lone surrogate as the escape a client would send, and 1e999 as
    # Infinity, which is not JSON: the literal overflow is what a client can send.
    data = json.dumps(body).replace("Infinity", "1e999")
    response = client.post(path, data=data, headers=auth, content_type="application/json")
    assert assert_error(response, 400, code)["details"] == details
    assert client.get("/v1/jobs", headers=auth).get_json()["jobs"] == []


def _without_length(client: FlaskClient, auth: dict[str, str], body: bytes) -> Any:
    """POST a body as gunicorn passes a chunked one on: no length, the stream terminated."""
    headers = {**auth, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    return client.post(
        GENERATIONS,
        input_stream=io.BytesIO(body),
        headers=headers,
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_body_without_length_is_read_to_the_limit_and_refused_past_it(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    document = json.dumps(A_CAT).encode()
    exactly = document[:-1] + b" " * (MAX_REQUEST_BYTES - len(document)) + b"}"
    assert len(exactly) == MAX_REQUEST_BYTES

    assert _without_length(client, auth, exactly).status_code == 202
    assert_error(_without_length(client, auth, exactly + b" "), 413, "PAYLOAD_TOO_LARGE")

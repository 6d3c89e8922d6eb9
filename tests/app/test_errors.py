"""The error envelope and the status of each public code (app/errors.py), in-process: every
failure, a use case's, Flask's or werkzeug's own, or an unexpected exception, answers
{error: {code, message, details}, status, request_id} with the status the contract lists
(app/openapi.yaml's description)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from imagegen.errors import ServiceError
from imagegen.records import utc_now
from imagegen.services import Services
from tests.app.conftest import (
    MAX_IMAGE_BYTES,
    MAX_IMAGE_REQUEST_BYTES,
    MAX_REQUEST_BYTES,
    assert_error,
    b64,
)

GENERATIONS = "/v1/images/generations"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", GENERATIONS, {"prompt": ""}, 400, "IMG001"),
        ("POST", GENERATIONS, {"prompt": "a" * 4001}, 400, "IMG002"),
        ("POST", GENERATIONS, {"prompt": "a cat", "size": "512x512"}, 400, "IMG301"),
        ("POST", GENERATIONS, {"prompt": "a cat", "n": 99}, 400, "IMG302"),
        ("POST", "/v1/uploads", {"image_base64": "not base64 at all!"}, 400, "IMG303"),
        (
            "POST",
            "/v1/uploads",
            {"image_base64": b64(b"\0" * (MAX_IMAGE_BYTES + 1))},
            413,
            "IMG304",
        ),
        ("GET", "/v1/jobs/job_0123456789abcdef0123456789abcdef", None, 404, "NOT_FOUND"),
        ("DELETE", "/v1/models", None, 405, "METHOD_NOT_ALLOWED"),
        ("POST", GENERATIONS, {"prompt": "a" * MAX_REQUEST_BYTES}, 413, "PAYLOAD_TOO_LARGE"),
    ],
    ids=[
        "IMG001",
        "IMG002",
        "IMG301",
        "IMG302",
        "IMG303",
        "IMG304",
        "NOT_FOUND",
        "METHOD_NOT_ALLOWED",
        "PAYLOAD_TOO_LARGE",
    ],
)
def test_a_routes_refusal_answers_the_status_of_its_code(
    client: FlaskClient,
    auth: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
    code: str,
) -> None:
    assert_error(client.open(path, method=method, json=body, headers=auth), status, code)


@pytest.mark.parametrize(
    ("code", "status", "details"),
    [
        ("IMG003", 422, {"safety_issues": ["blocked"]}),
        ("IMG201", 502, {}),
        ("IMG202", 504, {}),
        ("IMG203", 503, {"retry_after": 7}),
    ],
)
def test_a_job_the_worker_failed_answers_its_codes_status_when_asked_again(
    client: FlaskClient,
    auth: dict[str, str],
    services: Services,
    code: str,
    status: int,
    details: dict[str, Any],
) -> None:
    # A synchronous request asked again (same Idempotency-Key) answers the job as it is now:
    # here failed by the worker with one of the codes only a model call produces.
    headers = {**auth, "Idempotency-Key": f"worker-failed-{code}"}
    body = {"prompt": "a lighthouse"}
    first = client.post(GENERATIONS, json=body, headers=headers)
    assert first.status_code == 202, first.get_json()
    job_id = first.get_json()["job_id"]
    failure = ServiceError(code, "what the model said", details)
    assert services.repository.fail_job(job_id, failure.to_dict(), utc_now())

    again = client.post(GENERATIONS, json=body, headers=headers)

    error = assert_error(again, status, code)
    assert error["details"] == {**details, "job_id": job_id}
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers.get("Retry-After") == ("7" if "retry_after" in details else None)


def test_a_conflict_answers_409_with_its_code(client: FlaskClient, auth: dict[str, str]) -> None:
    job_id = client.post(GENERATIONS, json={"prompt": "a", "async": True}, headers=auth).get_json()[
        "job_id"
    ]
    assert client.post(f"/v1/jobs/{job_id}/cancel", headers=auth).status_code == 200

    error = assert_error(client.post(f"/v1/jobs/{job_id}/cancel", headers=auth), 409, "IMG302")
    assert error["details"] == {"job_id": job_id, "status": "cancelled"}


def test_an_unexpected_exception_is_an_enveloped_500_that_tells_nothing_of_it(
    app: Flask, client: FlaskClient
) -> None:
    @app.get("/raise-unexpected")
    def _raise() -> str:
        raise RuntimeError("secret internals")

    error = assert_error(client.get("/raise-unexpected"), 500, "INTERNAL_ERROR")
    assert error == {"code": "INTERNAL_ERROR", "message": "internal error", "details": {}}


# --- Flask's and werkzeug's own failures ---------------------------------------------------


@pytest.mark.parametrize("path", ["/nothing-here", "/v1/nothing-here", "/v1/images/not-an-id"])
def test_an_unknown_path_is_an_enveloped_404_even_to_a_browser(
    client: FlaskClient, path: str
) -> None:
    response = client.get(path, headers={"Accept": "text/html"})
    assert_error(response, 404, "NOT_FOUND")


def test_a_wrong_method_is_an_enveloped_405_that_keeps_the_allow_header(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    response = client.get(GENERATIONS, headers=auth)
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}


@pytest.mark.parametrize("path", ["/v1/uploads", "/v1/images/edits"])
def test_an_image_route_over_its_larger_limit_is_413_with_the_image_code(
    client: FlaskClient, auth: dict[str, str], path: str
) -> None:
    # Over the API's default limit but within the image routes' own: not refused for size.
    within = {"image_base64": "x" * (MAX_REQUEST_BYTES * 2)}
    assert client.post(path, json=within, headers=auth).status_code == 400

    response = client.post(path, json={"image_base64": "x" * MAX_IMAGE_REQUEST_BYTES}, headers=auth)
    error = assert_error(response, 413, "IMG304")
    assert error["details"] == {
        "limit_bytes": MAX_IMAGE_REQUEST_BYTES,
        "image_limit_bytes": MAX_IMAGE_BYTES,
    }


def test_a_body_that_is_not_json_is_an_enveloped_400(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    response = client.post(
        GENERATIONS, data=b'{"prompt": ', headers={**auth, "Content-Type": "application/json"}
    )
    error = assert_error(response, 400, "IMG302")
    assert error["message"].startswith("the request body is not valid JSON")

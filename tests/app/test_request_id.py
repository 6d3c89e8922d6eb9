"""X-Request-ID (app/__init__.py): a client's id of 1-128 of A-Z a-z 0-9 . _ : - is kept
for the request, its answer, its error envelope and the job it creates; any other is
replaced by one the server makes, as is a missing one."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.app.conftest import GENERATED_REQUEST_ID, assert_error

VALID = ["a", "req-1.2_3:4", "A" * 128, "0123456789abcdefABCDEF._:-"]
INVALID = ["", "A" * 129, "has space", "semi;colon", "slash/ed", 'quote"d', "caf\u00e9", "{id}"]


@pytest.mark.parametrize("request_id", VALID, ids=["one", "mixed", "128", "every-class"])
def test_a_valid_id_is_echoed_in_the_answer_and_the_error_envelope(
    client: FlaskClient, request_id: str
) -> None:
    answer = client.get("/healthz", headers={"X-Request-ID": request_id})
    assert answer.headers["X-Request-ID"] == request_id

    refused = client.get("/v1/models", headers={"X-Request-ID": request_id})
    assert_error(refused, 401, "AUTH001")
    assert refused.get_json()["request_id"] == request_id


@pytest.mark.parametrize(
    "request_id",
    INVALID,
    ids=["empty", "129", "space", "semicolon", "slash", "quote", "non-ascii", "braces"],
)
def test_an_invalid_id_is_replaced_by_one_the_server_makes(
    client: FlaskClient, request_id: str
) -> None:
    response = client.get("/v1/nothing", headers={"X-Request-ID": request_id})
    assert_error(response, 404, "NOT_FOUND")
    assert GENERATED_REQUEST_ID.fullmatch(response.headers["X-Request-ID"])


def test_without_an_id_each_request_gets_its_own(client: FlaskClient) -> None:
    made = {client.get("/healthz").headers["X-Request-ID"] for _ in range(3)}
    assert len(made) == 3
    assert all(GENERATED_REQUEST_ID.fullmatch(request_id) for request_id in made)


def test_the_id_is_recorded_on_the_job_the_request_creates(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    headers = {**auth, "X-Request-ID": "client-42"}
    accepted = client.post(
        "/v1/images/generations", json={"prompt": "a cat", "async": True}, headers=headers
    )
    assert accepted.headers["X-Request-ID"] == "client-42"
    assert accepted.get_json()["request_id"] == "client-42"
    job_id = accepted.get_json()["job_id"]
    # Read back by a request of another id: the job keeps the id of the one that made it.
    job = client.get(f"/v1/jobs/{job_id}", headers=auth).get_json()["job"]
    assert job["request_id"] == "client-42"


def test_a_query_refusal_carries_the_id_too(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.get("/v1/jobs?limt=5", headers={**auth, "X-Request-ID": "typo-1"})
    assert_error(response, 400, "IMG302")
    assert response.get_json()["request_id"] == "typo-1"

"""`Prefer: wait=N` (RFC 7240) on the routes that answer synchronously (app/submission.py):
a whole number of seconds shortens the wait, capped by the server's, and is reported in
Preference-Applied; any other wait value is refused before anything is recorded.

No worker runs here, so a request waits for as long as it was let: the server's wait is 30 s
in this module, and the tests that pass answer at once only because wait=0 was applied.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.app.conftest import assert_error

GENERATIONS = "/v1/images/generations"


@pytest.fixture
def app_env() -> dict[str, str]:
    return {"IMAGEGEN_SYNC_WAIT_SECONDS": "30"}


@pytest.mark.parametrize(
    "prefer",
    [
        ["wait=0"],
        ["WAIT=0"],
        ['wait="0"'],
        [" wait = 0 "],
        ["wait=0; ignored=param"],
        ["respond-async, wait=0"],
        ["handling=lenient", "wait=0"],
        # RFC 7240 section 2: of a preference given twice, the first counts.
        ["wait=0, wait=x"],
    ],
    ids=[
        "plain",
        "upper-case",
        "quoted",
        "spaces",
        "parameter",
        "second-preference",
        "second-header",
        "first-of-two",
    ],
)
def test_a_wait_is_read_from_any_form_of_the_header(
    client: FlaskClient, auth: dict[str, str], prefer: list[str]
) -> None:
    headers = [*auth.items(), *(("Prefer", value) for value in prefer)]
    response = client.post(GENERATIONS, json={"prompt": "a cat"}, headers=headers)
    assert response.status_code == 202, response.get_json()
    assert response.headers["Preference-Applied"] == "wait=0"


@pytest.mark.parametrize(
    "prefer",
    ["wait=abc", "wait=0x1", 'wait="-1"', "wait=1e3", "respond-async, wait=1.5", "wait"],
    ids=["word", "hex", "quoted-negative", "exponent", "second-preference", "no-value"],
)
@pytest.mark.parametrize(
    ("path", "body"),
    [
        (GENERATIONS, {"prompt": "a cat"}),
        (GENERATIONS, {"prompt": "a cat", "async": True}),
        # Read before the body: a body refused for itself still gets the header's refusal.
        ("/v1/images/edits", {"task": "no-such-task"}),
    ],
    ids=["sync", "async", "edit"],
)
def test_a_wait_that_is_not_whole_seconds_is_refused_and_nothing_is_recorded(
    client: FlaskClient, auth: dict[str, str], prefer: str, path: str, body: dict[str, Any]
) -> None:
    response = client.post(
        path,
        data=json.dumps(body),
        headers={**auth, "Prefer": prefer},
        content_type="application/json",
    )
    error = assert_error(response, 400, "IMG302")
    assert error["details"] == {"parameter": "Prefer"}
    assert client.get("/v1/jobs", headers=auth).get_json()["jobs"] == []


@pytest.mark.parametrize("app_env", [{"IMAGEGEN_SYNC_WAIT_SECONDS": "0"}])
def test_a_wait_longer_than_the_servers_is_cut_to_it(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    response = client.post(
        GENERATIONS, json={"prompt": "a cat"}, headers={**auth, "Prefer": "wait=30"}
    )
    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == "wait=0"


@pytest.mark.parametrize("app_env", [{"IMAGEGEN_SYNC_WAIT_SECONDS": "0"}])
@pytest.mark.parametrize("prefer", [None, "respond-async", "handling=strict; wait"])
def test_without_a_wait_preference_none_is_reported_applied(
    client: FlaskClient, auth: dict[str, str], prefer: str | None
) -> None:
    # "handling=strict; wait" names wait only as a parameter of another preference.
    headers = auth if prefer is None else {**auth, "Prefer": prefer}
    response = client.post(GENERATIONS, json={"prompt": "a cat"}, headers=headers)
    assert response.status_code == 202
    assert "Preference-Applied" not in response.headers


def test_an_async_request_applies_no_wait_preference(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    response = client.post(
        GENERATIONS, json={"prompt": "a cat", "async": True}, headers={**auth, "Prefer": "wait=0"}
    )
    assert response.status_code == 202
    assert "Preference-Applied" not in response.headers

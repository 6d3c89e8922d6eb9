"""Query parameters a route does not declare in app/openapi.yaml are refused with 400 IMG302
(app/query_params.py), naming the first unknown one and what the route takes."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.app.conftest import assert_error

IMAGE = "img_0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/jobs", ["cursor", "limit", "status", "user_id"]),
        # Routes with path variables, plain and with a converter (<image_id:image_id>).
        ("GET", "/v1/jobs/job_x", []),
        ("POST", "/v1/jobs/job_x/cancel", []),
        ("GET", f"/v1/images/{IMAGE}/content", ["variant"]),
        ("DELETE", f"/v1/images/{IMAGE}", []),
        ("GET", "/v1/models/amazon.nova-canvas-v1:0", []),
        ("GET", "/files/t/generated/2026/11/01/img_1.png", ["expires", "signature"]),
        ("GET", "/healthz", []),
    ],
)
def test_an_undeclared_parameter_is_refused_with_what_the_route_takes(
    client: FlaskClient, auth: dict[str, str], method: str, path: str, allowed: list[str]
) -> None:
    response = client.open(path, method=method, query_string={"verbose": "1"}, headers=auth)
    error = assert_error(response, 400, "IMG302")
    assert error["details"] == {"parameter": "verbose", "allowed": allowed}
    assert error["message"].endswith(f"(this route takes: {', '.join(allowed) or 'none'})")


def test_of_several_unknown_parameters_the_first_by_name_is_named(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    response = client.get("/v1/jobs?zeta=1&limit=5&alpha=2&limt=3", headers=auth)
    assert assert_error(response, 400, "IMG302")["details"]["parameter"] == "alpha"


def test_declared_parameters_are_taken_even_repeated_or_empty_valued(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    response = client.get("/v1/images?tags=a&tags=b&search=&limit=5", headers=auth)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["limit"] == 5


def test_a_parameter_declared_for_another_method_of_the_path_is_refused(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    # GET /v1/images/{id}/content takes variant; DELETE /v1/images/{id} takes nothing.
    response = client.delete(f"/v1/images/{IMAGE}?variant=original", headers=auth)
    assert assert_error(response, 400, "IMG302")["details"]["parameter"] == "variant"
    # GET /v1/jobs takes limit; POST /v1/batches does not.
    response = client.post("/v1/batches?limit=1", json={"requests": []}, headers=auth)
    assert assert_error(response, 400, "IMG302")["details"]["parameter"] == "limit"


def test_a_path_no_route_matches_is_404_whatever_its_query(client: FlaskClient) -> None:
    assert_error(client.get("/v1/nowhere?verbose=1"), 404, "NOT_FOUND")


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
def test_head_and_options_which_flask_answers_for_every_get_are_not_refused(
    client: FlaskClient, auth: dict[str, str], method: str
) -> None:
    response = client.open("/v1/jobs?verbose=1", method=method, headers=auth)
    assert response.status_code == 200

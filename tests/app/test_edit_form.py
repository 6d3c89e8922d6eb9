"""The OpenAI-style multipart form of POST /v1/images/edits (app/api/edits.py): `image`
(or `image[]`) and `mask` files, every other field a form field; other file fields and any
response_format but url are refused; without a task the form means inpaint when a mask is
sent, else image_to_image."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.app.conftest import MAX_IMAGE_BYTES, assert_error, png

EDITS = "/v1/images/edits"


def _file(data: bytes, name: str = "in.png") -> tuple[io.BytesIO, str, str]:
    return io.BytesIO(data), name, "image/png"


def _post(client: FlaskClient, auth: dict[str, str], **fields: Any) -> Any:
    form = {"prompt": "a lighthouse", "async": "true", **fields}
    return client.post(EDITS, data=form, headers=auth, content_type="multipart/form-data")


def _job(client: FlaskClient, auth: dict[str, str], response: Any) -> dict[str, Any]:
    assert response.status_code == 202, response.get_json()
    job: dict[str, Any] = client.get(
        f"/v1/jobs/{response.get_json()['job_id']}", headers=auth
    ).get_json()["job"]
    return job


def test_without_a_task_a_form_with_a_mask_is_an_inpaint(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    mask = png((512, 512), "white")  # white: generate everywhere
    response = _post(client, auth, image=_file(png((512, 512))), mask=_file(mask))
    assert _job(client, auth, response)["task"] == "inpaint"


def test_without_a_task_a_form_without_a_mask_is_image_to_image(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    response = _post(client, auth, image=_file(png((512, 512))))
    assert _job(client, auth, response)["task"] == "image_to_image"


def test_several_image_files_are_the_images_of_a_variation(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    images = [_file(png((512, 512), color)) for color in ("red", "blue")]
    response = _post(
        client,
        auth,
        task="variation",
        model="amazon.titan-image-generator-v2:0",
        **{"image[]": images},
    )
    job = _job(client, auth, response)
    # Inline images are kept as uploads, named by id in the stored request.
    assert job["task"] == "variation" and len(job["request"]["image_ids"]) == 2


def test_repeated_user_tags_fields_are_a_list(client: FlaskClient, auth: dict[str, str]) -> None:
    response = _post(client, auth, image=_file(png((512, 512))), user_tags=["sea", "night"])
    assert _job(client, auth, response)["request"]["user_tags"] == ["sea", "night"]


@pytest.mark.parametrize(
    ("files", "named"),
    [({"picture": "x"}, "picture"), ({"zmask": "x", "masks": "y"}, "masks")],
    ids=["one", "first-by-name"],
)
def test_a_file_field_other_than_image_and_mask_is_refused(
    client: FlaskClient, auth: dict[str, str], files: dict[str, str], named: str
) -> None:
    extra = {name: _file(png(), f"{name}.png") for name in files}
    response = _post(client, auth, image=_file(png((512, 512))), **extra)
    error = assert_error(response, 400, "IMG302")
    assert error["details"] == {"parameter": named}
    assert ", ".join(sorted(files)) in error["message"]
    assert client.get("/v1/jobs", headers=auth).get_json()["jobs"] == []


@pytest.mark.parametrize("response_format", ["b64_json", "URL", ""])
def test_a_response_format_other_than_url_is_refused(
    client: FlaskClient, auth: dict[str, str], response_format: str
) -> None:
    response = _post(client, auth, image=_file(png((512, 512))), response_format=response_format)
    error = assert_error(response, 400, "IMG302")
    assert error["details"] == {"parameter": "response_format", "allowed": ["url"]}


def test_response_format_url_is_taken_and_not_kept_as_a_parameter(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    response = _post(client, auth, image=_file(png((512, 512))), response_format="url")
    assert "response_format" not in _job(client, auth, response)["request"]


def test_an_image_file_over_the_image_limit_is_413_naming_its_field(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    too_large = png((512, 512)) + b"\0" * MAX_IMAGE_BYTES
    response = _post(client, auth, image=_file(png((512, 512))), mask=_file(too_large))
    error = assert_error(response, 413, "IMG304")
    assert error["details"] == {"field": "mask", "limit_bytes": MAX_IMAGE_BYTES}


def test_a_form_with_too_many_fields_is_413_for_its_parts_not_its_size(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    # Werkzeug's default max_form_parts is 1000; the body is far under the size limit.
    fields = {f"field_{i}": "x" for i in range(1001)}
    response = _post(client, auth, image=_file(png((64, 64))), **fields)
    error = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert "bytes" not in error["message"]

"""Bad input found by probing the running service (issue 12): each answers a 400 (or 404,
413) in the error envelope, nothing is queued or stored, and the service keeps serving."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from imagegen.config import Settings, url_signing_secret
from imagegen.signing import UrlSigner
from tests.conftest import Stack
from tests.integration.conftest import Api
from tests.integration.images import b64, encode, scene
from tests.integration.raw_http import connect, read_head

SURROGATE = "\ud800"
# The five routes that take a JSON body, with a valid body for each.
JSON_ROUTES = {
    "generation": ("POST", "/v1/images/generations", {"prompt": "a lighthouse", "async": True}),
    "edit": (
        "POST",
        "/v1/images/edits",
        {
            "task": "image_to_image",
            "prompt": "a lighthouse",
            "input_image_base64": b64(encode(scene((512, 512)))),
            "async": True,
        },
    ),
    "batch": ("POST", "/v1/batches", {"requests": [{"prompt": "a lighthouse"}]}),
    "upload": ("POST", "/v1/uploads", {"image_base64": b64(encode(scene((256, 256))))}),
    "patch": ("PATCH", "/v1/images/img_" + "0" * 32, {"description": "new"}),
}


def _raw_json(api: Api, method: str, path: str, data: bytes) -> requests.Response:
    return api.request(
        method, path, data=data, headers={"Content-Type": "application/json"}, timeout=30
    )


def _error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"]["code"] == code, body
    assert body["status"] == status
    return body


@pytest.fixture
def no_job_created(api: Api) -> Iterator[Callable[[], bool]]:
    """Whether the tenant's newest job is still the one it had when the test started."""

    def newest() -> str | None:
        jobs = api.request("GET", "/v1/jobs", params={"limit": 1}).json()["jobs"]
        return jobs[0]["job"]["job_id"] if jobs else None

    before = newest()
    yield lambda: newest() == before


# --- text that is not text (item 2) --------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code", "parameter"),
    [
        ({"prompt": "a cat " + SURROGATE}, "IMG001", "prompt"),
        ({"prompt": "a cat", "negative_prompt": SURROGATE}, "IMG302", "negative_prompt"),
        ({"prompt": "a cat", "user_tags": ["ok", "bad" + SURROGATE]}, "IMG302", "user_tags[1]"),
        ({"prompt": "a cat", "description": "x\udfff"}, "IMG302", "description"),
        ({"prompt": "a cat", SURROGATE: 1}, "IMG302", SURROGATE),
        ({"prompt": "a cat\x00with a NUL"}, "IMG001", "prompt"),
        ({"prompt": "a cat", "chat_id": "c\x00"}, "IMG302", "chat_id"),
    ],
    ids=["prompt", "negative", "tag", "description", "key", "nul-in-prompt", "nul-in-chat-id"],
)
def test_strings_that_are_not_text_are_refused_before_anything_is_queued(
    api: Api, no_job_created: Callable[[], bool], body: dict[str, Any], code: str, parameter: str
) -> None:
    # json.dumps writes a lone surrogate as the valid JSON escape "\ud800", as a client would.
    for sync in (False, True):
        response = _raw_json(
            api, "POST", "/v1/images/generations", json.dumps({**body, "async": not sync}).encode()
        )
        error = _error(response, 400, code)
        assert error["error"]["details"]["parameter"] == parameter
    assert no_job_created()


def test_surrogates_are_refused_in_every_json_route(api: Api, no_job_created: Callable[[], bool]):
    for name, (method, path, body) in JSON_ROUTES.items():
        field = "image_base64" if name == "upload" else "description"
        if name == "batch":
            bad = {"requests": [{"prompt": "ok"}, {"prompt": "bad " + SURROGATE}]}
        else:
            bad = {**body, field: SURROGATE}
        response = _raw_json(api, method, path, json.dumps(bad).encode())
        code = "IMG303" if name == "upload" else "IMG001" if name == "batch" else "IMG302"
        _error(response, 400, code)
    assert no_job_created()


def test_a_surrogate_in_an_edit_form_field_cannot_arrive(api: Api) -> None:
    # Form fields are bytes decoded as UTF-8; undecodable bytes become U+FFFD, never a
    # surrogate, so the edit goes through with the replacement character.
    files = {"image": ("in.png", encode(scene((512, 512))), "image/png")}
    data = {"prompt": "a lighthouse", "task": "image_to_image", "description": b"bad \xed\xa0\x80"}
    response = api.request("POST", "/v1/images/edits", files=files, data=data)
    assert response.status_code == 200, response.text


def test_a_nul_in_an_edit_form_field_is_refused(api: Api, no_job_created: Callable[[], bool]):
    files = {"image": ("in.png", encode(scene((512, 512))), "image/png")}
    data = {"prompt": "a lighthouse", "task": "image_to_image", "user_tags": ["ok", "a\x00b"]}
    response = api.request("POST", "/v1/images/edits", files=files, data=data)
    assert _error(response, 400, "IMG302")["error"]["details"]["parameter"] == "user_tags[1]"
    assert no_job_created()


@pytest.mark.parametrize(
    "prompt",
    ["\u200b\u200b", "\u200d\ufeff\u2060", " \t\u00a0\u3000", "\u200e\n"],
    ids=["zero-width-space", "joiner-bom-word-joiner", "spaces", "mark-newline"],
)
def test_a_prompt_of_invisible_characters_is_not_a_prompt(
    api: Api, no_job_created: Callable[[], bool], prompt: str
) -> None:
    _error(api.generate({"prompt": prompt, "async": True}), 400, "IMG001")
    assert no_job_created()


def test_a_tag_of_invisible_characters_is_refused(api: Api) -> None:
    response = api.generate({"prompt": "a cat", "user_tags": ["\u200b"], "async": True})
    _error(response, 400, "IMG302")


def test_visible_text_in_any_script_is_accepted(api: Api) -> None:
    response = api.generate({"prompt": "灯台 \u200bと海 🌊", "user_tags": ["海"]})
    assert response.status_code == 200, response.text
    assert response.json()["images"][0]["revised_prompt"] == "灯台 \u200bと海 🌊"


# --- bodies that break parsers (items 5 and 8) ---------------------------------------------


@pytest.mark.parametrize("depth", [17, 1000, 100_000])
def test_deeply_nested_json_is_refused_on_every_json_route(api: Api, depth: int) -> None:
    nested = ("[" * depth + "]" * depth).encode()
    for name, (method, path, body) in JSON_ROUTES.items():
        document = json.dumps({**body, "description": "@"}).encode()
        for data in (nested, document.replace(b'"@"', nested)):
            response = _raw_json(api, method, path, data)
            error = _error(response, 400, "IMG302")
            assert "nests deeper" in error["error"]["message"], (name, error)


def test_json_as_deep_as_a_real_request_is_accepted(api: Api) -> None:
    body = {
        "requests": [{"type": "edit", "task": "variation", "image_ids": ["img_" + "0" * 32]}],
    }
    response = api.request("POST", "/v1/batches", json=body)
    # Parsed and checked: the refusal is about the missing image, not the shape.
    assert "no image img_" in _error(response, 400, "IMG302")["error"]["message"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'\xef\xbb\xbf{"prompt": "a cat"}', "byte order mark"),
        ('{"prompt": "a cat"}'.encode("utf-16"), "not UTF-8"),
        ('{"prompt": "a cat"}'.encode("utf-16-le"), "NUL"),
        ('{"prompt": "a cat"}'.encode("utf-32-be"), "NUL"),
        (b'{"prompt": "caf\xe9"}', "not UTF-8"),
        (b'{"prompt": "a cat", "cfg_scale": NaN}', "NaN"),
        (b'{"prompt": "a cat", "cfg_scale": Infinity}', "Infinity"),
        (b'{"prompt": "a cat", "cfg_scale": 1e999}', "finite"),
        (b'{"prompt": "a cat"', "not valid JSON"),
    ],
    ids=[
        "bom",
        "utf-16-bom",
        "utf-16-le",
        "utf-32",
        "latin-1",
        "nan",
        "infinity",
        "overflow",
        "cut",
    ],
)
def test_json_that_is_not_utf8_rfc_8259_is_refused(
    api: Api, no_job_created: Callable[[], bool], data: bytes, reason: str
) -> None:
    error = _error(_raw_json(api, "POST", "/v1/images/generations", data), 400, "IMG302")
    assert reason in error["error"]["message"]
    assert no_job_created()


@pytest.mark.parametrize(
    "cfg_scale", [10**400, -(10**400)], ids=["beyond-float", "beyond-float-negative"]
)
def test_an_integer_beyond_float_range_is_a_400(api: Api, cfg_scale: int) -> None:
    body = json.dumps({"prompt": "a cat", "model": "stability.stable-diffusion-xl-v1"})
    data = body[:-1] + f', "cfg_scale": {cfg_scale}}}'
    response = _raw_json(api, "POST", "/v1/images/generations", data.encode())
    error = _error(response, 400, "IMG302")
    assert "cfg_scale" in error["error"]["message"]
    edit = {**JSON_ROUTES["edit"][2], "image_strength": 10**400}
    _error(api.request("POST", "/v1/images/edits", json=edit), 400, "IMG302")


@pytest.mark.parametrize("item", [True, None, 3, "a cat", ["a cat"]])
def test_batch_requests_that_are_not_objects_are_refused(api: Api, item: Any) -> None:
    response = api.request("POST", "/v1/batches", json={"requests": [{"prompt": "ok"}, item]})
    error = _error(response, 400, "IMG302")
    assert error["error"]["details"]["parameter"] == "requests[1]"


def test_a_chunked_body_over_the_limit_is_413(api: Api, stack: Stack) -> None:
    """No Content-Length to check up front: the limit holds while the body is read."""
    chunk = b"a" * (64 * 1024)
    with connect(stack, timeout=30) as conn:
        conn.sendall(
            b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: " + api.session.headers["Authorization"].encode() + b"\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        # Valid JSON once whole, so only its size can be refused.
        chunks = [b'{"prompt": "', *[chunk] * 160, b'"}']  # 10 MB, far over the 1 MB limit
        try:
            for data in chunks:
                conn.sendall(b"%x\r\n%s\r\n" % (len(data), data))
            conn.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the body ended: as it may
        answer = read_head(conn)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/json" in answer.split(b"\r\n\r\n")[0]
    assert api.request("GET", "/healthz").status_code == 200


# --- query strings (item 5) ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["²", "①", "\uff11\uff10", "٣", "1.5", "-1", "1e3", "99999999999"]
)
@pytest.mark.parametrize(
    ("path", "name"),
    [("/v1/images", "limit"), ("/v1/images", "page"), ("/v1/jobs", "limit")],
)
def test_numbers_in_a_query_are_ascii_digits(api: Api, path: str, name: str, value: str):
    error = _error(api.request("GET", path, params={name: value}), 400, "IMG302")
    assert error["error"]["details"]["parameter"] == name


def _cursor(data: Any) -> str:
    import base64

    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        # Deeper than Python's recursion limit, short enough for gunicorn's request line.
        _cursor(b"[" * 1200 + b"]" * 1200),
        _cursor(b'{"v": 1, "after": "\\ud800", "position": 0}'),
        _cursor({"v": 1, "after": "x", "position": 0, "limit": 0}),
        _cursor({"v": 1, "after": "x", "position": 0, "limit": True}),
        "%%%",
    ],
    ids=["deep", "surrogate", "zero-limit", "bool-limit", "not-base64"],
)
def test_a_cursor_that_is_not_ours_is_a_400(api: Api, cursor: str) -> None:
    error = _error(api.request("GET", "/v1/images", params={"cursor": cursor}), 400, "IMG302")
    assert error["error"]["details"]["parameter"] == "cursor"


def test_a_cursor_keeps_the_page_size_of_its_listing(api: Api) -> None:
    job = api.generate({"prompt": "five pages of one", "n": 5}).json()
    assert len(job["images"]) == 5
    first = api.request("GET", "/v1/images", params={"limit": 2}).json()
    second = api.request("GET", "/v1/images", params={"cursor": first["next_cursor"]}).json()
    assert (second["page"], second["limit"], len(second["images"])) == (2, 2, 2)
    third = api.request("GET", "/v1/images", params={"cursor": second["next_cursor"]}).json()
    assert (third["page"], third["limit"]) == (3, 2)
    seen = [i["image_id"] for page in (first, second, third) for i in page["images"]]
    assert len(set(seen)) == 6
    # An explicit limit still wins over the cursor's.
    wider = api.request(
        "GET", "/v1/images", params={"cursor": first["next_cursor"], "limit": 1}
    ).json()
    assert (wider["page"], wider["limit"], len(wider["images"])) == (3, 1, 1)


# --- sizes (item 10) -----------------------------------------------------------------------


@pytest.mark.parametrize("size", ["512x512", "800x600", "1024X1024", "big", ""])
def test_a_size_the_contract_does_not_list_is_img301(api: Api, size: str) -> None:
    error = _error(api.generate({"prompt": "a cat", "size": size}), 400, "IMG301")
    assert error["error"]["details"] == {
        "parameter": "size",
        "allowed": ["1024x1024", "1792x1024", "1024x1792"],
    }


# --- files (item 7) ------------------------------------------------------------------------


def test_a_signed_url_for_a_folder_is_404(api: Api, stack: Stack) -> None:
    image = api.generate({"prompt": "a folder of images"}).json()["images"][0]
    key = urlsplit(image["url"]).path.removeprefix("/files/")
    folder = key.rsplit("/", 1)[0]
    signer = UrlSigner(
        url_signing_secret(Settings.from_env(stack.env)), stack.base_url, ttl_seconds=60
    )
    for name in (folder, folder + "/", folder.split("/", 1)[0]):
        response = api.request("GET", urlsplit(signer.sign(name)).path, params=_query(signer, name))
        assert response.status_code == 404, (name, response.text)
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert api.fetch(image["url"]).status_code == 200


def _query(signer: UrlSigner, key: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(urlsplit(signer.sign(key)).query))


# --- query parameters and methods found by the fuzz suite ----------------------------------


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/v1/images", {"limt": "5"}),
        ("GET", "/v1/jobs", {"limit": "1", "": "false"}),
        ("GET", "/v1/models", {"verbose": "1"}),
        ("POST", "/v1/images/generations", {"async": "true"}),
    ],
)
def test_a_query_parameter_the_route_does_not_declare_is_refused(
    api: Api, no_job_created: Callable[[], bool], method: str, path: str, params: dict[str, str]
) -> None:
    response = api.request(method, path, params=params, json={"prompt": "a cat"})
    error = _error(response, 400, "IMG302")
    assert error["error"]["details"]["parameter"] in params
    assert no_job_created()


def test_declared_query_parameters_are_still_taken(api: Api) -> None:
    params = {"limit": "1", "sort": "created_at", "order": "asc", "status": "temporary"}
    assert api.request("GET", "/v1/images", params=params).status_code == 200
    assert api.request("GET", "/healthz").status_code == 200


def test_an_empty_status_filter_is_refused(api: Api) -> None:
    response = api.request("GET", "/v1/images", params={"status": ""})
    assert _error(response, 400, "IMG302")["error"]["details"]["parameter"] == "status"


def test_a_method_not_allowed_names_the_allowed_ones(api: Api) -> None:
    response = api.request("PUT", "/v1/images/generations", documented=False, json={})
    _error(response, 405, "METHOD_NOT_ALLOWED")
    assert set(response.headers["Allow"].split(", ")) >= {"POST", "OPTIONS"}

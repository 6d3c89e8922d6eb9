"""The image library through the real stack: GET/PATCH/DELETE /v1/images, the content
redirect, the summary, tenant isolation, expiry by the worker's sweeper, a user's job
history and the recount-images command."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from PIL import Image

from imagegen.records import parse_utc, utc_timestamp
from tests.conftest import PYTHON, ROOT, Stack, Tenant, make_tenant, wait_until
from tests.integration.conftest import Api
from tests.integration.images import encode, scene

NOVA = "amazon.nova-canvas-v1:0"
SORTS = ("created_at", "saved_at", "view_count", "size_bytes")


# --- helpers ------------------------------------------------------------------------------


class TenantApi(Api):
    """An Api that knows its tenant."""

    def __init__(self, stack: Stack, tenant: Tenant, openapi) -> None:
        super().__init__(stack, tenant, openapi)
        self.tenant = tenant


def fresh_api(
    stack: Stack, openapi, user: str = "carol", tenant_id: str | None = None
) -> TenantApi:
    """A tenant of its own, so counts and totals depend on this test only."""
    tenant = make_tenant(stack, tenant_id or f"lib-{uuid.uuid4().hex[:12]}", user)
    return TenantApi(stack, tenant, openapi)


def upload(api: Api, size: tuple[int, int] = (64, 64), colour: tuple[int, int, int] = (0, 0, 0)):
    image = scene(size)
    image.putpixel((0, 0), colour)  # different bytes for different colours
    response = api.request(
        "POST", "/v1/uploads", files={"file": ("in.png", encode(image), "image/png")}
    )
    assert response.status_code == 201, response.text
    return response.json()["image_id"]


def generate(api: Api, **body: Any) -> list[str]:
    response = api.generate({"model": NOVA, "size": "1024x1024", **body})
    assert response.status_code == 200, response.text
    return [image["image_id"] for image in response.json()["images"]]


def listing(api: Api, **params: Any) -> dict[str, Any]:
    response = api.request("GET", "/v1/images", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def listed_ids(api: Api, **params: Any) -> list[str]:
    return [image["image_id"] for image in listing(api, limit=100, **params)["images"]]


def get_image(api: Api, image_id: str) -> dict[str, Any]:
    response = api.request("GET", f"/v1/images/{image_id}")
    assert response.status_code == 200, response.text
    return response.json()


def patch(api: Api, image_id: str, body: Any) -> Any:
    return api.request("PATCH", f"/v1/images/{image_id}", json=body)


def summary(api: Api) -> dict[str, int]:
    return listing(api)["summary"]


def sort_key(image: dict[str, Any], sort: str) -> str:
    """records.image_sort_key, from the JSON."""
    value = {
        "created_at": image["created_at"],
        "saved_at": image["saved_at"] or "",
        "view_count": f"{image['view_count']:012d}",
        "size_bytes": f"{image['metadata']['size_bytes']:012d}",
    }[sort]
    return f"{value}#{image['image_id']}"


def blob_path(stack: Stack, url: str) -> Path:
    """The file a signed URL of the local blob store serves."""
    key = unquote(urlsplit(url).path.removeprefix("/files/"))
    return stack.data_dir / "blobs" / key


def assert_invalid(response, field: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == "IMG302"
    assert error["details"].get("field") == field, error


def database(stack: Stack) -> sqlite3.Connection:
    return sqlite3.connect(stack.data_dir / "imagegen.sqlite3", timeout=30)


# --- a library to list ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def library(stack, openapi) -> tuple[TenantApi, dict[str, str]]:
    """Seven images of every type, some saved, one favourite, viewed unevenly.

    fox1, fox2: one job, chat-1, tags fox+winter, category animals; fox1 is a favourite.
    sea: chat-2, tag sea, description "Calendar cover", category places, saved.
    cat: chat-1, tag cat, category animals, saved.
    up_small, up_large: uploads of two sizes. cutout: an edit of up_large.
    """
    api = fresh_api(stack, openapi)
    fox1, fox2 = generate(
        api, prompt="a red fox in the snow", n=2, chat_id="chat-1", user_tags=["fox", "winter"]
    )
    [sea] = generate(
        api,
        prompt="a lighthouse at dawn",
        chat_id="chat-2",
        user_tags=["sea"],
        description="Calendar cover",
    )
    [cat] = generate(api, prompt="a tabby cat asleep", chat_id="chat-1", user_tags=["cat"])
    up_small = upload(api, (64, 64))
    up_large = upload(api, (512, 512))
    edited = api.request(
        "POST", "/v1/images/edits", json={"task": "remove_background", "image_id": up_large}
    )
    assert edited.status_code == 200, edited.text
    cutout = edited.json()["images"][0]["image_id"]
    for image_id in (fox1, fox2, cat):
        assert patch(api, image_id, {"categories": ["animals"]}).status_code == 200
    assert patch(api, sea, {"categories": ["places"], "status": "saved"}).status_code == 200
    assert patch(api, cat, {"status": "saved"}).status_code == 200
    assert patch(api, fox1, {"is_favorite": True}).status_code == 200
    for image_id, views in ((sea, 3), (fox2, 1), (up_small, 2)):
        for _ in range(views):
            get_image(api, image_id)
    names = {
        "fox1": fox1,
        "fox2": fox2,
        "sea": sea,
        "cat": cat,
        "up_small": up_small,
        "up_large": up_large,
        "cutout": cutout,
    }
    return api, names


def test_every_filter_selects_what_it_names(library):
    api, n = library
    everything = set(n.values())

    def matching(**params: Any) -> set[str]:
        return set(listed_ids(api, **params))

    assert matching() == everything
    assert matching(status="saved") == {n["sea"], n["cat"]}
    assert matching(status="temporary") == everything - {n["sea"], n["cat"]}
    assert matching(status="temporary,saved") == everything
    assert matching(status=["temporary", "saved"]) == everything
    assert matching(chat_id="chat-1") == {n["fox1"], n["fox2"], n["cat"]}
    assert matching(chat_id="chat-2") == {n["sea"]}
    assert matching(chat_id="nowhere") == set()
    assert matching(tags="fox") == {n["fox1"], n["fox2"]}
    assert matching(tags="cat,sea") == {n["cat"], n["sea"]}  # any of them
    assert matching(tags=["cat", "sea"]) == {n["cat"], n["sea"]}
    assert matching(categories="places") == {n["sea"]}
    assert matching(categories="animals,places") == {n["fox1"], n["fox2"], n["cat"], n["sea"]}
    assert matching(is_favorite="true") == {n["fox1"]}
    assert matching(is_favorite="false") == everything - {n["fox1"]}
    assert matching(image_type="uploaded") == {n["up_small"], n["up_large"]}
    assert matching(image_type="edited") == {n["cutout"]}
    assert matching(image_type="generated") == {n["fox1"], n["fox2"], n["sea"], n["cat"]}
    assert matching(search="LIGHTHOUSE") == {n["sea"]}  # case-insensitive, the prompt
    assert matching(search="calendar") == {n["sea"]}  # the description
    assert matching(search="fox in") == {n["fox1"], n["fox2"]}
    assert matching(status="saved", chat_id="chat-1", tags="cat") == {n["cat"]}
    assert matching(tags="fox", is_favorite="false") == {n["fox2"]}


def test_created_from_and_to_take_iso_8601_in_any_offset(library):
    api, n = library
    images = listing(api, limit=100, sort="created_at", order="asc")["images"]
    times = {image["image_id"]: image["created_at"] for image in images}
    sea_at = times[n["sea"]]
    later = {i for i, t in times.items() if t >= sea_at}
    earlier = {i for i, t in times.items() if t <= sea_at}
    assert set(listed_ids(api, created_from=sea_at)) == later  # inclusive
    assert set(listed_ids(api, created_to=sea_at)) == earlier
    assert set(listed_ids(api, created_from=sea_at, created_to=sea_at)) == {n["sea"]}
    # The same moment written with an offset, and without a zone (UTC).
    moment = parse_utc(sea_at)
    in_tokyo = (moment + timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+09:00"
    assert set(listed_ids(api, created_from=in_tokyo)) == later
    assert set(listed_ids(api, created_from=sea_at.removesuffix("Z"))) == later
    day = sea_at[:10]
    assert set(listed_ids(api, created_from=day, created_to=day)) >= {n["sea"]}
    assert listed_ids(api, created_to="2000-01-01") == []
    for params in (
        {"created_from": "yesterday"},
        {"created_to": "2026-13-01"},
        {"created_from": "2026-11-02", "created_to": "2026-11-01"},
    ):
        response = api.request("GET", "/v1/images", params=params)
        assert_invalid(response, next(iter(params)))


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_every_sort_orders_by_its_key(library, sort, order):
    api, _n = library
    images = listing(api, limit=100, sort=sort, order=order)["images"]
    keys = [sort_key(image, sort) for image in images]
    assert keys == sorted(keys, reverse=order == "desc")
    assert len(images) == 7
    if sort == "view_count" and order == "desc":
        assert [image["view_count"] for image in images[:3]] == [3, 2, 1]
    if sort == "saved_at" and order == "desc":
        assert {image["status"] for image in images[:2]} == {"saved"}


def test_the_default_order_is_newest_first(library):
    api, _n = library
    images = listing(api, limit=100)["images"]
    assert [i["image_id"] for i in images] == [
        i["image_id"] for i in sorted(images, key=lambda i: sort_key(i, "created_at"), reverse=True)
    ]


def test_pages_the_last_page_and_past_the_end(library):
    api, _n = library
    whole = listed_ids(api)
    assert len(whole) == 7
    walked = []
    for page in range(1, 5):
        body = listing(api, limit=2, page=page)
        assert (body["total"], body["page"], body["limit"], body["total_pages"]) == (7, page, 2, 4)
        walked += [image["image_id"] for image in body["images"]]
    assert walked == whole
    last = listing(api, limit=2, page=4)
    assert len(last["images"]) == 1 and last["next_cursor"] is None
    beyond = listing(api, limit=2, page=9)
    assert (beyond["images"], beyond["total"], beyond["page"], beyond["next_cursor"]) == (
        [], 7, 9, None
    )  # fmt: skip
    full = listing(api, limit=100)
    assert (len(full["images"]), full["total_pages"], full["next_cursor"]) == (7, 1, None)
    default = listing(api)
    assert (default["page"], default["limit"]) == (1, 20)
    filtered = listing(api, limit=2, tags="fox,cat")
    assert (filtered["total"], filtered["total_pages"]) == (3, 2)


@pytest.mark.parametrize("sort", SORTS)
def test_a_cursor_walk_equals_the_page_walk(library, sort):
    api, _n = library
    for params in ({}, {"status": "temporary"}, {"tags": "fox,cat,sea"}):
        by_pages = []
        body = listing(api, limit=3, sort=sort, order="asc", **params)
        total_pages = body["total_pages"]
        for page in range(1, total_pages + 1):
            body = listing(api, limit=3, sort=sort, order="asc", page=page, **params)
            by_pages += [image["image_id"] for image in body["images"]]
        by_cursor, pages, cursor = [], [], None
        while True:
            extra = {"cursor": cursor} if cursor else {}
            body = listing(api, limit=3, sort=sort, order="asc", **params, **extra)
            by_cursor += [image["image_id"] for image in body["images"]]
            pages.append(body["page"])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert by_cursor == by_pages, params
        assert pages == list(range(1, total_pages + 1))
        assert len(set(by_cursor)) == len(by_cursor) == body["total"]


def test_a_cursor_only_fits_the_listing_it_came_from(library):
    api, _n = library
    cursor = listing(api, limit=2, tags="fox,cat,sea")["next_cursor"]
    assert cursor
    assert listing(api, limit=2, tags="sea,cat,fox", cursor=cursor)["page"] == 2  # same set
    for params in (
        {"tags": "fox"},
        {"tags": "fox,cat,sea", "status": "saved"},
        {"tags": "fox,cat,sea", "sort": "size_bytes"},
        {"tags": "fox,cat,sea", "order": "asc"},
        {"tags": "fox,cat,sea", "search": "fox"},
    ):
        response = api.request("GET", "/v1/images", params={**params, "cursor": cursor})
        assert_invalid(response, "cursor")
    for bad in ("nope", "e30", "!!!"):
        assert_invalid(api.request("GET", "/v1/images", params={"cursor": bad}), "cursor")


def test_bad_list_parameters_are_refused_naming_the_parameter(library):
    api, _n = library
    for params, field in (
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"status": "deleted"}, "status"),
        ({"status": "temporary,lost"}, "status"),
        ({"is_favorite": "yes"}, "is_favorite"),
        ({"image_type": "painted"}, "image_type"),
        ({"sort": "name"}, "sort"),
        ({"order": "up"}, "order"),
        ({"search": "x" * 501}, "search"),
    ):
        assert_invalid(api.request("GET", "/v1/images", params=params), field)


def test_an_image_reads_back_whole(library, stack):
    api, n = library
    sea = get_image(api, n["sea"])
    assert sea["image_id"] == n["sea"]
    assert (sea["user_id"], sea["tenant_id"]) == ("carol", api.tenant.tenant_id)
    assert sea["job_id"].startswith("job_") and sea["chat_id"] == "chat-2"
    assert sea["original_prompt"] == sea["revised_prompt"] == "a lighthouse at dawn"
    assert sea["description"] == "Calendar cover"
    assert (sea["user_tags"], sea["categories"]) == (["sea"], ["places"])
    assert (sea["status"], sea["image_type"], sea["is_favorite"], sea["is_public"]) == (
        "saved", "generated", False, False
    )  # fmt: skip
    assert sea["metadata"]["model"] == NOVA and sea["metadata"]["quality"] == "standard"
    assert sea["permanent_url"] == f"{stack.base_url}/v1/images/{n['sea']}/content"
    assert sea["saved_at"] >= sea["created_at"]
    # Saved: kept 90 days from its creation (IMAGEGEN_SAVED_RETENTION_DAYS).
    assert sea["expires_at"] == utc_timestamp(parse_utc(sea["created_at"]) + timedelta(days=90))
    up = get_image(api, n["up_small"])
    assert (up["image_type"], up["job_id"], up["original_prompt"], up["permanent_url"]) == (
        "uploaded", None, None, None
    )  # fmt: skip
    # Temporary: 7 days from its creation (IMAGEGEN_TEMPORARY_RETENTION_DAYS).
    assert up["expires_at"] == utc_timestamp(parse_utc(up["created_at"]) + timedelta(days=7))
    cutout = get_image(api, n["cutout"])
    assert cutout["image_type"] == "edited" and cutout["metadata"]["format"] == "png"
    decoded = Image.open(io.BytesIO(api.fetch(sea["url"]).content))
    assert decoded.size == (sea["metadata"]["width"], sea["metadata"]["height"])


# --- views, downloads, content ------------------------------------------------------------


def test_views_are_counted(stack, openapi):
    api = fresh_api(stack, openapi)
    image_id = upload(api)
    assert [get_image(api, image_id)["view_count"] for _ in range(3)] == [1, 2, 3]
    [listed] = listing(api)["images"]
    assert listed["view_count"] == 3  # listing does not count views
    assert listing(api, sort="view_count")["images"][0]["view_count"] == 3


def test_content_redirects_to_a_signed_url_and_counts_downloads(stack, openapi):
    api = fresh_api(stack, openapi)
    image_id = upload(api, (128, 96))
    response = api.request("GET", f"/v1/images/{image_id}/content", allow_redirects=False)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert "/files/" in location and "signature=" in location
    fetched = api.fetch(location)
    assert fetched.status_code == 200
    decoded = Image.open(io.BytesIO(fetched.content))
    decoded.load()
    assert decoded.size == (128, 96)
    response = api.request(
        "GET", f"/v1/images/{image_id}/content", params={"variant": "thumbnail"},
        allow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 302
    thumbnail = Image.open(io.BytesIO(api.fetch(response.headers["Location"]).content))
    assert thumbnail.format == "WEBP"
    api.request("GET", f"/v1/images/{image_id}/content", allow_redirects=False)
    image = get_image(api, image_id)
    assert image["download_count"] == 2  # the originals; the thumbnail is not a download
    bad = api.request(
        "GET", f"/v1/images/{image_id}/content", params={"variant": "huge"},
        allow_redirects=False,
    )  # fmt: skip
    assert_invalid(bad, "variant")
    # Saved, the permanent URL is this route: it keeps working with fresh signatures.
    saved = patch(api, image_id, {"status": "saved"}).json()
    followed = api.session.get(saved["permanent_url"], timeout=30)
    assert followed.status_code == 200 and followed.content == fetched.content


# --- summary and changes ------------------------------------------------------------------


def test_the_summary_follows_creates_saves_favourites_and_deletes(stack, openapi):
    api = fresh_api(stack, openapi)
    assert summary(api) == {
        "total_images": 0, "saved_images": 0, "temporary_images": 0,
        "total_size_bytes": 0, "favorite_count": 0,
    }  # fmt: skip
    empty = listing(api)
    assert (empty["images"], empty["total"], empty["total_pages"]) == ([], 0, 0)
    ids = [upload(api, (64, 64), (n, n, n)) for n in range(3)]
    sizes = {i: get_image(api, i)["metadata"]["size_bytes"] for i in ids}
    total = sum(sizes.values())

    def counts() -> tuple[int, int, int, int, int]:
        s = summary(api)
        return (
            s["total_images"], s["saved_images"], s["temporary_images"],
            s["total_size_bytes"], s["favorite_count"],
        )  # fmt: skip

    assert counts() == (3, 0, 3, total, 0)
    patch(api, ids[0], {"status": "saved"})
    assert counts() == (3, 1, 2, total, 0)
    assert patch(api, ids[0], {"status": "saved"}).status_code == 200  # again: no change
    assert counts() == (3, 1, 2, total, 0)
    patch(api, ids[1], {"is_favorite": True})
    patch(api, ids[1], {"is_favorite": True})
    patch(api, ids[0], {"is_favorite": True})
    assert counts() == (3, 1, 2, total, 2)
    assert listing(api, is_favorite="true")["total"] == 2
    assert listing(api, status="saved")["total"] == 1
    assert api.request("DELETE", f"/v1/images/{ids[1]}").status_code == 204
    assert counts() == (2, 1, 1, total - sizes[ids[1]], 1)
    patch(api, ids[0], {"is_favorite": False})
    assert counts() == (2, 1, 1, total - sizes[ids[1]], 0)
    # The summary is the whole library, whatever the filters.
    assert listing(api, tags="nothing")["summary"] == summary(api)
    assert listing(api, tags="nothing")["total"] == 0


def test_a_patch_changes_what_it_names_and_saves(stack, openapi):
    api = fresh_api(stack, openapi)
    image_id = upload(api)
    before = get_image(api, image_id)
    changed = patch(
        api,
        image_id,
        {
            "user_tags": [" fox ", "fox", "snow"],
            "categories": ["animals", "animals "],
            "description": "A fox for the calendar",
            "is_public": True,
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["user_tags"], body["categories"]) == (["fox", "snow"], ["animals"])
    assert (body["description"], body["is_public"], body["is_favorite"]) == (
        "A fox for the calendar", True, False
    )  # fmt: skip
    assert (body["status"], body["saved_at"], body["expires_at"]) == (
        "temporary", None, before["expires_at"]
    )  # fmt: skip
    assert listed_ids(api, search="CALENDAR") == [image_id]
    assert listed_ids(api, tags="snow") == [image_id]
    cleared = patch(api, image_id, {"description": None, "user_tags": []}).json()
    assert (cleared["description"], cleared["user_tags"], cleared["categories"]) == (
        None, [], ["animals"]
    )  # fmt: skip
    assert listed_ids(api, search="calendar") == []
    assert patch(api, image_id, {}).json()["categories"] == ["animals"]  # nothing named

    saved = patch(api, image_id, {"status": "saved"}).json()
    assert saved["status"] == "saved" and saved["saved_at"] is not None
    assert saved["permanent_url"].endswith(f"/v1/images/{image_id}/content")
    assert saved["expires_at"] == utc_timestamp(parse_utc(saved["created_at"]) + timedelta(days=90))
    again = patch(api, image_id, {"status": "saved"})
    assert again.status_code == 200 and again.json()["saved_at"] == saved["saved_at"]
    back = patch(api, image_id, {"status": "temporary"})
    assert_invalid(back, "status", 409)
    assert get_image(api, image_id)["status"] == "saved"


def test_patch_refuses_what_it_cannot_take(stack, openapi):
    api = fresh_api(stack, openapi)
    image_id = upload(api)
    for body, field in (
        ({"bogus": 1}, "bogus"),
        ({"user_tags": ["a"], "prompt": "x"}, "prompt"),
        ({"user_tags": "fox"}, "user_tags"),
        ({"user_tags": [1, 2]}, "user_tags"),
        ({"user_tags": ["   "]}, "user_tags"),
        ({"user_tags": ["x" * 51]}, "user_tags"),
        ({"user_tags": [f"t{i}" for i in range(21)]}, "user_tags"),
        ({"categories": ["ok", ""]}, "categories"),
        ({"categories": None}, "categories"),
        ({"description": "d" * 1001}, "description"),
        ({"description": 5}, "description"),
        ({"is_favorite": "true"}, "is_favorite"),
        ({"is_public": 1}, "is_public"),
        ({"status": "deleted"}, "status"),
        ({"status": "archived"}, "status"),
    ):
        assert_invalid(patch(api, image_id, body), field)
    not_an_object = api.request("PATCH", f"/v1/images/{image_id}", json=["saved"])
    assert not_an_object.status_code == 400
    assert patch(api, image_id, {"user_tags": [f"t{i}" for i in range(20)]}).status_code == 200
    assert patch(api, image_id, {"description": "d" * 1000}).status_code == 200
    # A temporary image asked to be temporary is already so.
    assert patch(api, image_id, {"status": "temporary"}).json()["status"] == "temporary"
    message = patch(api, image_id, {"status": "deleted"}).json()["error"]["message"]
    assert f"DELETE /v1/images/{image_id}" in message


def test_delete_removes_the_record_and_its_files(stack, openapi):
    api = fresh_api(stack, openapi)
    image_id = upload(api)
    kept = upload(api, colour=(9, 9, 9))
    image = get_image(api, image_id)
    original, thumbnail = blob_path(stack, image["url"]), blob_path(stack, image["thumbnail_url"])
    assert original.is_file() and thumbnail.is_file()

    response = api.request("DELETE", f"/v1/images/{image_id}")
    assert response.status_code == 204 and response.content == b""
    assert not original.exists() and not thumbnail.exists()
    assert api.fetch(image["url"]).status_code == 404
    for method, path, kwargs in (
        ("GET", f"/v1/images/{image_id}", {}),
        ("PATCH", f"/v1/images/{image_id}", {"json": {"status": "saved"}}),
        ("PATCH", f"/v1/images/{image_id}", {"json": {"is_favorite": True}}),
        ("DELETE", f"/v1/images/{image_id}", {}),
        ("GET", f"/v1/images/{image_id}/content", {"allow_redirects": False}),
    ):
        again = api.request(method, path, **kwargs)
        assert again.status_code == 404, (method, path)
        assert again.json()["error"]["code"] == "NOT_FOUND"
    assert listed_ids(api) == [kept]
    assert summary(api)["total_images"] == 1
    # A deleted upload cannot be edited either.
    edit = api.request(
        "POST", "/v1/images/edits", json={"task": "remove_background", "image_id": image_id}
    )
    assert edit.status_code == 400


def test_an_unknown_image_is_404(api):
    missing = "img_" + "0" * 32
    for method in ("GET", "PATCH", "DELETE"):
        response = api.request(method, f"/v1/images/{missing}", json={})
        assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"


def test_another_tenant_cannot_see_or_touch_an_image(stack, openapi, other_api):
    api = fresh_api(stack, openapi)
    image_id = upload(api)
    theirs_before = other_api.request("GET", "/v1/images").json()
    for method, path, kwargs in (
        ("GET", f"/v1/images/{image_id}", {}),
        ("PATCH", f"/v1/images/{image_id}", {"json": {"status": "saved", "is_favorite": True}}),
        ("DELETE", f"/v1/images/{image_id}", {}),
        ("GET", f"/v1/images/{image_id}/content", {"allow_redirects": False}),
        ("GET", f"/v1/images/{image_id}/content?variant=thumbnail", {"allow_redirects": False}),
    ):
        response = other_api.request(method, path, **kwargs)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "NOT_FOUND"
    theirs = other_api.request("GET", "/v1/images", params={"limit": 100}).json()
    assert image_id not in [i["image_id"] for i in theirs["images"]]
    assert theirs["summary"] == theirs_before["summary"]
    mine = get_image(api, image_id)
    assert (mine["status"], mine["is_favorite"], mine["view_count"], mine["download_count"]) == (
        "temporary", False, 1, 0
    )  # fmt: skip
    assert summary(api)["total_images"] == 1


# --- expiry -----------------------------------------------------------------------------


def test_the_sweeper_removes_expired_images_with_their_files(stack, openapi):
    api = fresh_api(stack, openapi)
    expiring, kept = upload(api), upload(api, colour=(5, 5, 5))
    patch(api, expiring, {"is_favorite": True})
    image = get_image(api, expiring)
    files = [blob_path(stack, image["url"]), blob_path(stack, image["thumbnail_url"])]
    assert all(path.is_file() for path in files)
    with database(stack) as db:
        db.execute(
            "UPDATE images SET expires_at = ? WHERE image_id = ?",
            ("2000-01-01T00:00:00.000Z", expiring),
        )

    def gone() -> bool:
        return api.request("GET", f"/v1/images/{expiring}").status_code == 404

    wait_until(gone, timeout=15, what="the sweeper to expire the image")
    wait_until(lambda: not any(path.exists() for path in files), timeout=5, what="its files")
    with database(stack) as db:
        assert db.execute("SELECT 1 FROM images WHERE image_id = ?", (expiring,)).fetchone() is None
    assert listed_ids(api) == [kept]
    counts = summary(api)
    assert (counts["total_images"], counts["favorite_count"]) == (1, 0)


def test_a_deleted_images_tombstone_expires_too(stack, openapi):
    api = fresh_api(stack, openapi)
    image_id = upload(api)
    assert api.request("DELETE", f"/v1/images/{image_id}").status_code == 204
    with database(stack) as db:
        row = db.execute("SELECT status FROM images WHERE image_id = ?", (image_id,)).fetchone()
        assert row == ("deleted",)
        db.execute(
            "UPDATE images SET expires_at = ? WHERE image_id = ?",
            ("2000-01-01T00:00:00.000Z", image_id),
        )

    def removed() -> bool:
        with database(stack) as db:
            found = db.execute("SELECT 1 FROM images WHERE image_id = ?", (image_id,)).fetchone()
        return found is None

    wait_until(removed, timeout=15, what="the tombstone to expire")
    assert summary(api)["total_images"] == 0  # counted out once, at the delete


# --- a user's job history -----------------------------------------------------------------


def test_jobs_list_one_users_history_with_model_and_parameters(stack, openapi):
    carol = fresh_api(stack, openapi, user="carol")
    dave = fresh_api(stack, openapi, user="dave", tenant_id=carol.tenant.tenant_id)
    mine = carol.generate({"prompt": "carol's fox", "model": NOVA, "seed": 11}).json()
    theirs = dave.generate({"prompt": "dave's owl", "model": NOVA}).json()
    history = carol.request("GET", "/v1/jobs", params={"user_id": "carol"}).json()
    [entry] = history["jobs"]
    job = entry["job"]
    assert (job["job_id"], job["user_id"], job["model"], job["task"]) == (
        mine["job_id"], "carol", NOVA, "text_to_image"
    )  # fmt: skip
    assert job["request"]["prompt"] == "carol's fox"
    assert (job["parameters"]["seed"], job["parameters"]["n"]) == (11, 1)
    assert (job["parameters"]["width"], job["parameters"]["height"]) == (1024, 1024)
    daves = carol.request("GET", "/v1/jobs", params={"user_id": "dave"}).json()["jobs"]
    assert [j["job"]["job_id"] for j in daves] == [theirs["job_id"]]
    assert daves[0]["job"]["parameters"]["seed"] is not None  # the seed it was given
    both = carol.request("GET", "/v1/jobs").json()["jobs"]
    assert {j["job"]["job_id"] for j in both} == {mine["job_id"], theirs["job_id"]}
    nobody = carol.request("GET", "/v1/jobs", params={"user_id": "erin"}).json()
    assert nobody == {"jobs": [], "next_cursor": None}
    # The images record who made them too.
    assert get_image(carol, theirs["images"][0]["image_id"])["user_id"] == "dave"


# --- the operator's recount -----------------------------------------------------------------


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "imagegen.cli", *args],
        env=stack.env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_recount_images_rebuilds_the_counters(stack, openapi):
    api = fresh_api(stack, openapi)
    ids = [upload(api, colour=(n, 0, 0)) for n in range(2)]
    patch(api, ids[0], {"status": "saved", "is_favorite": True})
    right = summary(api)
    tenant_id = api.tenant.tenant_id
    with database(stack) as db:  # counters that drifted (as DynamoDB TTL can make them)
        db.execute(
            "UPDATE image_counters SET count = 40, bytes = 1, favorites = 7 WHERE tenant_id = ?",
            (tenant_id,),
        )
    assert summary(api) != right

    result = cli(stack, "recount-images", "--tenant", tenant_id)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"tenant_id": tenant_id, **right}
    assert summary(api) == right
    assert right["total_images"] == 2 and right["saved_images"] == right["favorite_count"] == 1

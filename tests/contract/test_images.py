"""The image library every repository keeps: filters, sorts, paging, the summary counters,
views and downloads, saving, deleting without resurrection, expiry and tenant isolation."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from imagegen.generation import parse_request, plan_generation
from imagegen.records import (
    EDITED,
    GENERATED,
    IMAGE_SORTS,
    PENDING,
    SAVED,
    TEMPORARY,
    UPLOADED,
    Image,
    ImageChanges,
    ImageQuery,
    ImageSummary,
    Job,
    image_sort_key,
    utc_in,
    utc_now,
)
from imagegen.storage.repository import Repository

FUTURE = "2099-01-01T00:00:00.000Z"


def new_image(tenant: str = "t1", number: int = 0, **fields: Any) -> Image:
    image_id = "img_" + uuid.uuid4().hex
    values: dict[str, Any] = {
        "image_id": image_id,
        "tenant_id": tenant,
        "user_id": "u1",
        "job_id": None,
        "model_id": "amazon.nova-canvas-v1:0",
        "original_prompt": f"a red fox number {number}",
        "revised_prompt": f"a red fox number {number}",
        "negative_prompt": None,
        "width": 512,
        "height": 512,
        "format": "png",
        "size_bytes": 1000 + number,
        "quality": "standard",
        "style": None,
        "seed": number,
        "blob_key": f"{tenant}/generated/2026/11/01/{image_id}.png",
        "thumbnail_key": f"{tenant}/thumbnails/2026/11/01/{image_id}.webp",
        "created_at": f"2026-11-01T00:00:{number % 60:02d}.{number // 60:03d}Z",
        "expires_at": FUTURE,
    }
    values.update(fields)
    return Image(**values)


def ids(images: list[Image]) -> list[str]:
    return [image.image_id for image in images]


def listed(repo: Repository, query: ImageQuery | None = None, tenant: str = "t1") -> list[str]:
    return ids(repo.list_images(tenant, query or ImageQuery(), 100).images)


def add_all(repo: Repository, images: list[Image]) -> list[Image]:
    for image in images:
        repo.add_image(image)
    return images


def summary(repo: Repository, tenant: str = "t1") -> tuple[int, int, int, int, int]:
    s = repo.image_summary(tenant)
    return (
        s.total_images,
        s.saved_images,
        s.temporary_images,
        s.total_size_bytes,
        s.favorite_count,
    )


def save() -> ImageChanges:
    return ImageChanges(save=True, saved_at=utc_now(), saved_expires_at=FUTURE)


# --- records ----------------------------------------------------------------------------


def test_an_image_is_read_back_whole_and_only_by_its_tenant(repository):
    image = add_all(
        repository,
        [new_image(chat_id="chat_1", user_tags=["fox"], description="Ünïcode désc")],
    )[0]
    assert repository.get_image("t1", image.image_id) == image
    assert repository.get_image("t2", image.image_id) is None
    assert repository.get_image("t1", "img_" + "0" * 32) is None
    assert repository.get_images("t2", [image.image_id]) == []


def test_a_completed_jobs_images_join_the_library(repository):
    job = Job(
        job_id="job_" + uuid.uuid4().hex,
        tenant_id="t1",
        user_id="u1",
        request_id="req_1",
        kind="text_to_image",
        request={"prompt": "a fox"},
        plan=plan_generation(parse_request({"prompt": "a fox", "n": 2}), "amazon.nova-canvas-v1:0"),
        status=PENDING,
        created_at=utc_now(),
    )
    repository.add_job(job)
    assert repository.start_job(job.job_id, "run_1", utc_now(), utc_in(30))
    images = [new_image(number=n, job_id=job.job_id) for n in (1, 2)]
    assert repository.complete_job(job.job_id, "run_1", images, {"price_usd": 0.08}, utc_now())
    assert repository.get_images("t1", ids(images)) == images
    assert set(listed(repository)) == set(ids(images))
    assert summary(repository) == (2, 0, 2, 1001 + 1002, 0)


# --- filters ----------------------------------------------------------------------------


@pytest.fixture
def library(repository) -> tuple[Repository, list[Image]]:
    """Eight images with varied fields, two of them saved and one favourite."""
    images = add_all(
        repository,
        [
            new_image(number=0, chat_id="chat_a", user_tags=["fox", "red"]),
            new_image(number=1, chat_id="chat_a", user_tags=["cat"], categories=["pets"]),
            new_image(number=2, chat_id="chat_b", categories=["pets", "art"]),
            new_image(
                number=3,
                image_type=EDITED,
                original_prompt="Ein Fuchs auf der Straße",
                revised_prompt="Ein Fuchs auf der Straße",
            ),
            new_image(number=4, image_type=UPLOADED, original_prompt=None, revised_prompt=None),
            new_image(number=5, description="An OWL at night"),
            new_image(number=6, user_tags=["red"]),
            new_image(number=7),
        ],
    )
    for image in images[5:7]:
        assert repository.update_image("t1", image.image_id, save()) is not None
    assert repository.update_image("t1", images[1].image_id, ImageChanges(is_favorite=True))
    return repository, images


def test_each_filter_selects_what_it_names(library):
    repo, images = library
    by = {n: images[n].image_id for n in range(8)}

    def matching(**filters: Any) -> set[str]:
        return set(listed(repo, ImageQuery(**filters)))

    assert matching() == set(by.values())
    assert matching(statuses=(SAVED,)) == {by[5], by[6]}
    assert matching(statuses=(TEMPORARY,)) == set(by.values()) - {by[5], by[6]}
    assert matching(chat_id="chat_a") == {by[0], by[1]}
    assert matching(tags=("red",)) == {by[0], by[6]}
    assert matching(tags=("cat", "fox")) == {by[0], by[1]}  # any of them
    assert matching(tags=("nothing",)) == set()
    assert matching(categories=("art",)) == {by[2]}
    assert matching(categories=("pets", "art")) == {by[1], by[2]}
    assert matching(is_favorite=True) == {by[1]}
    assert matching(is_favorite=False) == set(by.values()) - {by[1]}
    assert matching(image_type=EDITED) == {by[3]}
    assert matching(image_type=UPLOADED) == {by[4]}
    assert matching(image_type=GENERATED) == set(by.values()) - {by[3], by[4]}
    # Search is a case-insensitive substring of the prompts and the description.
    assert matching(search="FOX NUMBER 7") == {by[7]}
    assert matching(search="owl") == {by[5]}
    assert matching(search="STRASSE") == {by[3]}  # case-folded: ß matches ss
    assert matching(search="number") == set(by.values()) - {by[3], by[4]}
    created = {n: images[n].created_at for n in range(8)}
    assert matching(created_from=created[6]) == {by[6], by[7]}  # inclusive
    assert matching(created_to=created[1]) == {by[0], by[1]}
    assert matching(created_from=created[2], created_to=created[3]) == {by[2], by[3]}
    assert matching(statuses=(SAVED,), tags=("red",), search="number") == {by[6]}
    assert matching(statuses=(TEMPORARY,), chat_id="chat_a", is_favorite=True) == {by[1]}


def test_the_total_counts_every_match_not_just_the_page(library):
    repo, _images = library
    for query, expected in (
        (ImageQuery(), 8),
        (ImageQuery(statuses=(SAVED,)), 2),
        (ImageQuery(is_favorite=True), 1),
        (ImageQuery(statuses=(SAVED,), is_favorite=False), 2),
        (ImageQuery(tags=("red",)), 2),
        (ImageQuery(search="number", created_from="2026-11-01T00:00:03.000Z"), 3),
    ):
        page = repo.list_images("t1", query, 1)
        assert (len(page.images), page.total) == (min(1, expected), expected), query


# --- sorts and paging -------------------------------------------------------------------


@pytest.mark.parametrize("sort", IMAGE_SORTS)
@pytest.mark.parametrize("descending", [True, False])
def test_every_sort_orders_by_its_key_in_either_direction(library, sort, descending):
    repo, images = library
    # Views and sizes tie on purpose: the image id breaks ties.
    for image in images[:3]:
        repo.record_image_view("t1", image.image_id)
    current = repo.get_images("t1", ids(images))
    expected = sorted(current, key=lambda i: image_sort_key(i, sort), reverse=descending)
    assert listed(repo, ImageQuery(sort=sort, descending=descending)) == ids(expected)
    saved_only = [i for i in expected if i.status == SAVED]
    assert listed(repo, ImageQuery(statuses=(SAVED,), sort=sort, descending=descending)) == ids(
        saved_only
    )


def test_an_empty_library_lists_nothing(repository):
    page = repository.list_images("t1", ImageQuery(), 20)
    assert (page.images, page.total, page.next_after) == ([], 0, None)
    assert summary(repository) == (0, 0, 0, 0, 0)


@pytest.mark.parametrize("sort", IMAGE_SORTS)
def test_pages_by_offset_and_by_cursor_see_every_image_once(repository, sort):
    images = add_all(repository, [new_image(number=n, size_bytes=1000 + n % 5) for n in range(23)])
    for image in images[::3]:  # some saved, so both status partitions are merged
        repository.update_image("t1", image.image_id, save())
    query = ImageQuery(sort=sort, descending=sort != "size_bytes")
    whole = listed(repository, query)
    assert sorted(whole) == sorted(ids(images))

    by_offset = []
    for offset in range(0, 30, 5):
        page = repository.list_images("t1", query, 5, offset=offset)
        assert page.total == 23
        by_offset += ids(page.images)
    assert by_offset == whole

    by_cursor, after, pages = [], None, 0
    while True:
        page = repository.list_images("t1", query, 5, after=after)
        assert page.total == 23
        by_cursor += ids(page.images)
        pages += 1
        if page.next_after is None:
            break
        after = page.next_after
    assert (by_cursor, pages) == (whole, 5)


def test_the_last_page_and_pages_past_the_end(repository):
    add_all(repository, [new_image(number=n) for n in range(7)])
    last = repository.list_images("t1", ImageQuery(), 5, offset=5)
    assert (len(last.images), last.total, last.next_after) == (2, 7, None)
    beyond = repository.list_images("t1", ImageQuery(), 5, offset=10)
    assert (beyond.images, beyond.total, beyond.next_after) == ([], 7, None)
    exact = repository.list_images("t1", ImageQuery(), 7)
    assert (len(exact.images), exact.next_after) == (7, None)


def test_a_page_holds_up_to_100_images(repository):
    add_all(repository, [new_image(number=n) for n in range(130)])
    first = repository.list_images("t1", ImageQuery(), 100)
    assert (len(first.images), first.total) == (100, 130)
    assert first.next_after == image_sort_key(first.images[-1], "created_at")
    second = repository.list_images("t1", ImageQuery(), 100, after=first.next_after)
    assert (len(second.images), second.next_after) == (30, None)
    assert not set(ids(first.images)) & set(ids(second.images))


def test_filtered_pages_fill_up_past_images_that_do_not_match(repository):
    images = add_all(
        repository,
        [new_image(number=n, user_tags=["keep"] if n % 4 == 0 else []) for n in range(40)],
    )
    query = ImageQuery(tags=("keep",))
    first = repository.list_images("t1", query, 3)
    assert (len(first.images), first.total) == (3, 10)
    rest = repository.list_images("t1", query, 20, after=first.next_after)
    kept = [i for i in reversed(images) if "keep" in i.user_tags]
    assert ids(first.images) + ids(rest.images) == ids(kept)


# --- summary and changes ----------------------------------------------------------------


def test_the_summary_follows_creates_saves_favourites_and_deletes(repository):
    a, b, c = add_all(repository, [new_image(number=n, size_bytes=100 * n) for n in (1, 2, 3)])
    assert summary(repository) == (3, 0, 3, 600, 0)
    assert repository.update_image("t1", a.image_id, save()) is not None
    assert summary(repository) == (3, 1, 2, 600, 0)
    repository.update_image("t1", a.image_id, save())  # saving again changes nothing
    assert summary(repository) == (3, 1, 2, 600, 0)
    repository.update_image("t1", b.image_id, ImageChanges(is_favorite=True))
    repository.update_image("t1", b.image_id, ImageChanges(is_favorite=True))
    assert summary(repository) == (3, 1, 2, 600, 1)
    repository.update_image("t1", a.image_id, ImageChanges(is_favorite=True))
    assert summary(repository) == (3, 1, 2, 600, 2)
    assert repository.delete_image("t1", b.image_id, utc_now()) is not None
    assert summary(repository) == (2, 1, 1, 400, 1)
    repository.update_image("t1", a.image_id, ImageChanges(is_favorite=False))
    assert summary(repository) == (2, 1, 1, 400, 0)
    assert repository.delete_image("t1", a.image_id, utc_now()) is not None
    assert summary(repository) == (1, 0, 1, 300, 0)
    assert repository.recount_images("t1") == ImageSummary(1, 0, 1, 300, 0)
    assert repository.get_image("t1", c.image_id) is not None


def test_a_patch_changes_only_what_it_names(repository):
    image = add_all(repository, [new_image(user_tags=["a"], description="old")])[0]
    changed = repository.update_image(
        "t1", image.image_id, ImageChanges(categories=["art"], is_public=True)
    )
    assert changed is not None
    assert (changed.user_tags, changed.categories, changed.description) == (["a"], ["art"], "old")
    assert (changed.is_public, changed.status, changed.saved_at) == (True, TEMPORARY, None)
    changed = repository.update_image(
        "t1", image.image_id, ImageChanges(user_tags=["b", "c"], description="new")
    )
    assert changed is not None and (changed.user_tags, changed.description) == (["b", "c"], "new")
    assert repository.get_image("t1", image.image_id) == changed
    assert set(listed(repository, ImageQuery(tags=("c",)))) == {image.image_id}
    assert listed(repository, ImageQuery(tags=("a",))) == []
    assert set(listed(repository, ImageQuery(search="NEW"))) == {image.image_id}


def test_saving_sets_saved_at_and_the_saved_expiry(repository):
    image = add_all(repository, [new_image(expires_at="2026-11-08T00:00:00.000Z")])[0]
    saved_at = utc_now()
    changes = ImageChanges(save=True, saved_at=saved_at, saved_expires_at=None)
    saved = repository.update_image("t1", image.image_id, changes)
    assert saved is not None
    assert (saved.status, saved.saved_at, saved.expires_at) == (SAVED, saved_at, None)
    again = repository.update_image("t1", image.image_id, replace(changes, saved_at=utc_in(60)))
    assert again is not None and again.saved_at == saved_at  # the first save counts
    assert repository.update_image("t2", image.image_id, changes) is None


def test_views_and_downloads_are_counted(repository):
    image = add_all(repository, [new_image()])[0]
    for _ in range(3):
        viewed = repository.record_image_view("t1", image.image_id)
    assert viewed is not None and viewed.view_count == 3
    downloaded = repository.record_image_download("t1", image.image_id)
    assert downloaded is not None and (downloaded.download_count, downloaded.view_count) == (1, 3)
    assert repository.record_image_view("t2", image.image_id) is None
    assert repository.record_image_download("t2", image.image_id) is None
    stored = repository.get_image("t1", image.image_id)
    assert stored is not None and (stored.view_count, stored.download_count) == (3, 1)


def test_a_deleted_image_cannot_come_back(repository):
    image = add_all(repository, [new_image()])[0]
    assert repository.delete_image("t2", image.image_id, utc_now()) is None
    deleted = repository.delete_image("t1", image.image_id, utc_now())
    assert deleted is not None and deleted.image_id == image.image_id
    assert deleted.blob_key == image.blob_key
    assert repository.delete_image("t1", image.image_id, utc_now()) is None
    assert repository.get_image("t1", image.image_id) is None
    assert repository.get_images("t1", [image.image_id]) == []
    assert repository.update_image("t1", image.image_id, save()) is None
    assert repository.update_image("t1", image.image_id, ImageChanges(is_favorite=True)) is None
    assert repository.record_image_view("t1", image.image_id) is None
    assert repository.record_image_download("t1", image.image_id) is None
    assert listed(repository) == []
    assert summary(repository) == (0, 0, 0, 0, 0)


def race(times: int, action: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(times)

    def run(_: int) -> Any:
        barrier.wait()
        return action()

    with ThreadPoolExecutor(max_workers=times) as pool:
        return list(pool.map(run, range(times)))


def test_racing_changes_count_once(repository):
    a, b, c = add_all(repository, [new_image(number=n, size_bytes=10) for n in (1, 2, 3)])
    race(6, lambda: repository.update_image("t1", a.image_id, ImageChanges(is_favorite=True)))
    race(6, lambda: repository.update_image("t1", b.image_id, save()))
    deletes = race(6, lambda: repository.delete_image("t1", c.image_id, utc_now()))
    assert sum(result is not None for result in deletes) == 1
    views = race(6, lambda: repository.record_image_view("t1", a.image_id))
    assert all(view is not None for view in views)
    stored = repository.get_image("t1", a.image_id)
    assert stored is not None and stored.view_count == 6
    assert summary(repository) == (2, 1, 1, 20, 1)
    assert repository.recount_images("t1") == repository.image_summary("t1")


def test_tenants_see_only_their_own_library(repository):
    mine = add_all(repository, [new_image("t1", n) for n in range(3)])
    theirs = add_all(repository, [new_image("t2", n, user_tags=["x"]) for n in range(2)])
    repository.update_image("t2", theirs[0].image_id, ImageChanges(is_favorite=True))
    assert set(listed(repository)) == set(ids(mine))
    assert set(listed(repository, tenant="t2")) == set(ids(theirs))
    assert listed(repository, ImageQuery(tags=("x",))) == []
    assert summary(repository, "t1") == (3, 0, 3, 3003, 0)
    assert summary(repository, "t2") == (2, 0, 2, 2001, 1)
    assert summary(repository, "t3") == (0, 0, 0, 0, 0)


# --- expiry -----------------------------------------------------------------------------


def test_images_and_tombstones_expire_once_their_time_has_come(repository):
    past = "2026-11-02T00:00:00.000Z"
    expired = add_all(repository, [new_image(number=n, expires_at=past) for n in (1, 2)])
    kept = add_all(
        repository, [new_image(number=3, expires_at=FUTURE), new_image(number=4, expires_at=None)]
    )
    gone = add_all(repository, [new_image(number=5, expires_at=past)])[0]
    repository.delete_image("t1", gone.image_id, utc_now())
    assert summary(repository) == (4, 0, 4, 1001 + 1002 + 1003 + 1004, 0)

    removed = repository.expire_images("2026-11-01T12:00:00.000Z", 10)  # before the expiry
    assert removed == []
    removed = repository.expire_images(utc_now(), 10)
    assert sorted(ids(removed)) == sorted([*ids(expired), gone.image_id])
    assert {i.blob_key for i in removed} >= {i.blob_key for i in expired}
    assert repository.expire_images(utc_now(), 10) == []
    assert set(listed(repository)) == set(ids(kept))
    assert summary(repository) == (2, 0, 2, 1003 + 1004, 0)
    assert repository.get_image("t1", expired[0].image_id) is None


def test_expiry_takes_the_oldest_first_and_honours_the_limit(repository):
    images = add_all(
        repository,
        [new_image(number=n, expires_at=f"2026-11-0{9 - n}T00:00:00.000Z") for n in range(5)],
    )
    first = repository.expire_images(utc_now(), 2)
    assert ids(first) == [images[4].image_id, images[3].image_id]
    assert len(repository.expire_images(utc_now(), 10)) == 3

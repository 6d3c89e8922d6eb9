"""What the DynamoDB repository reads: the access patterns of docs/data-model.md, counted.

Every DynamoDB call the repository makes goes through a client whose botocore events record
the operation, the partition a Query read and how many items it read (ScannedCount: what a
Query pays for, before its filter). The library's reads must not grow with the library: a
page reads about a page, the summary is one item, and nothing ever scans the table.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from imagegen.records import IMAGE_SORTS, SAVED, TEMPORARY, Image, ImageQuery, image_sort_key
from imagegen.storage.dynamodb import DynamoRepository
from imagegen.storage.dynamodb.attributes import serialize_item
from imagegen.storage.dynamodb.codec import image_item
from tests.contract.aws import dynamodb_client, fresh_table

TENANT = "t-reads"
IMAGES = 300  # half temporary, half saved
LIMIT = 20
# What a page may read: no partition more than a page and one more (which tells whether
# more follow); both together their first Query pages (each half a page and one to spare)
# and then only what the page still lacks, so about a page, not a page per partition.
PER_PARTITION = LIMIT + 1


def together(wanted: int) -> int:
    """The most two partitions read for `wanted` items: all of them from one partition,
    and the other's first Query page (its half and one to spare)."""
    return wanted + -(-wanted // 2) + 1


TOGETHER = together(LIMIT + 1)


@dataclass
class Call:
    operation: str
    partition: str | None = None  # a Query's partition key value
    index: str | None = None
    scanned: int = 0  # items read
    returned: int = 0


@dataclass
class Recorder:
    """Records every call made through one client, via botocore's event system."""

    calls: list[Call] = field(default_factory=list)

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        call = Call(model.name, index=params.get("IndexName"))
        if model.name == "Query":
            call.partition = params["ExpressionAttributeValues"][":pk"]["S"]
        self.calls.append(call)

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        call = self.calls[-1]  # the tests make one call at a time
        assert call.operation == model.name
        if model.name in ("Query", "Scan"):
            call.scanned, call.returned = parsed.get("ScannedCount", 0), parsed.get("Count", 0)
        elif model.name == "GetItem":
            call.scanned = call.returned = int("Item" in parsed)
        elif model.name == "BatchGetItem":
            call.scanned = call.returned = sum(map(len, parsed.get("Responses", {}).values()))

    def reset(self) -> None:
        self.calls.clear()

    def operations(self) -> Counter[str]:
        return Counter(call.operation for call in self.calls)

    def read_per_partition(self) -> dict[str, int]:
        read: Counter[str] = Counter()
        for call in self.calls:
            if call.operation == "Query":
                read[call.partition or ""] += call.scanned
        return dict(read)

    def items_read(self) -> int:
        return sum(call.scanned for call in self.calls)


@dataclass
class Library:
    repo: DynamoRepository
    recorder: Recorder
    images: list[Image]


def library_image(number: int) -> Image:
    image_id = f"img_{number:04d}_{uuid.uuid4().hex[:8]}"
    saved = number % 2 == 1
    return Image(
        image_id=image_id,
        tenant_id=TENANT,
        user_id="u1",
        job_id=None,
        model_id="amazon.nova-canvas-v1:0",
        original_prompt=f"a red fox number {number}",
        revised_prompt=None,
        negative_prompt=None,
        width=512,
        height=512,
        format="png",
        size_bytes=1000 + (number * 7919) % 5000,
        quality="standard",
        style=None,
        seed=number,
        blob_key=f"{TENANT}/generated/2026/11/01/{image_id}.png",
        thumbnail_key=None,
        created_at=f"2026-11-01T{number // 3600:02d}:{number // 60 % 60:02d}:{number % 60:02d}.000Z",
        status=SAVED if saved else TEMPORARY,
        saved_at=f"2026-11-02T00:00:{number % 60:02d}.{number:03d}Z" if saved else None,
        is_favorite=number % 5 == 0,
        user_tags=["fox"] if number % 3 == 0 else [],
        view_count=(number * 31) % 97,
        expires_at="2099-01-01T00:00:00.000Z",
    )


def seed(client: Any, table: str, images: list[Image]) -> None:
    """The items add_image writes, in bulk: moto copies the whole table for every
    transaction, so 300 add_image calls would take most of a minute. The counters are then
    rebuilt the way an operator would (recount_images)."""
    items = [serialize_item(image_item(image)) for image in images]
    for start in range(0, len(items), 25):
        chunk = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        pending: dict[str, Any] = {table: chunk}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


@pytest.fixture
def library(data_layer: dict[str, Any], moto_endpoint: str) -> Iterator[Library]:
    """A fresh copy of the Terraform-applied table holding one tenant's 300 images, and a
    repository whose every call is recorded (and none of which may be a Scan)."""
    client = dynamodb_client(moto_endpoint)
    table = fresh_table(client, data_layer["table_name"])
    images = [library_image(n) for n in range(IMAGES)]
    seed(client, table, images)
    recorder = Recorder()
    recorder.attach(client)
    repo = DynamoRepository(table, client=client)
    repo.recount_images(TENANT)
    recorder.reset()
    yield Library(repo, recorder, images)
    scans = [call for call in recorder.calls if call.operation == "Scan"]
    assert scans == [], "the repository must never Scan the table"
    client.delete_table(TableName=table)


def assert_reads_about_a_page(recorder: Recorder) -> None:
    """A Query per status partition (and one more when the page comes mostly from one of
    them), no partition reading more than a page and one, both together about a page; the
    total from the counters, one GetItem."""
    operations = recorder.operations()
    assert operations["GetItem"] == 1 and 2 <= operations["Query"] <= 3, operations
    assert set(operations) == {"Query", "GetItem"}, operations
    read = recorder.read_per_partition()
    assert all(count <= PER_PARTITION for count in read.values()), read
    assert sum(read.values()) <= TOGETHER, read


def in_order(images: list[Image], sort: str, descending: bool = True) -> list[Image]:
    return sorted(images, key=lambda image: image_sort_key(image, sort), reverse=descending)


def test_the_summary_is_one_get_item(library: Library):
    summary = library.repo.image_summary(TENANT)
    assert summary.total_images == IMAGES
    assert summary.saved_images == summary.temporary_images == IMAGES // 2
    assert [(c.operation, c.scanned) for c in library.recorder.calls] == [("GetItem", 1)]


@pytest.mark.parametrize("sort", IMAGE_SORTS)
def test_the_first_page_reads_about_a_page_per_partition(library: Library, sort: str):
    page = library.repo.list_images(TENANT, ImageQuery(sort=sort), LIMIT)

    expected = in_order(library.images, sort)[:LIMIT]
    assert [i.image_id for i in page.images] == [i.image_id for i in expected]
    assert page.total == IMAGES
    recorder = library.recorder
    read = recorder.read_per_partition()
    assert set(read) == {f"{TENANT}#images#{TEMPORARY}", f"{TENANT}#images#{SAVED}"}
    assert_reads_about_a_page(recorder)


@pytest.mark.parametrize("sort", IMAGE_SORTS)
def test_a_cursor_page_deep_in_the_list_reads_about_the_same(library: Library, sort: str):
    ordered = in_order(library.images, sort)
    cursor = image_sort_key(ordered[239], sort)  # page 13 of 15

    page = library.repo.list_images(TENANT, ImageQuery(sort=sort), LIMIT, after=cursor)

    assert [i.image_id for i in page.images] == [i.image_id for i in ordered[240:260]]
    assert page.next_after == image_sort_key(ordered[259], sort)
    assert_reads_about_a_page(library.recorder)


def test_the_last_cursor_page_says_no_more_follow(library: Library):
    ordered = in_order(library.images, "created_at", descending=False)
    cursor = image_sort_key(ordered[IMAGES - LIMIT - 1], "created_at")
    query = ImageQuery(descending=False)

    page = library.repo.list_images(TENANT, query, LIMIT, after=cursor)

    assert [i.image_id for i in page.images] == [i.image_id for i in ordered[-LIMIT:]]
    assert page.next_after is None
    assert_reads_about_a_page(library.recorder)


def test_one_status_reads_one_partition(library: Library):
    page = library.repo.list_images(TENANT, ImageQuery(statuses=(SAVED,)), LIMIT)

    saved = [i for i in in_order(library.images, "created_at") if i.status == SAVED]
    assert [i.image_id for i in page.images] == [i.image_id for i in saved[:LIMIT]]
    assert page.total == len(saved)
    assert library.recorder.read_per_partition() == {f"{TENANT}#images#{SAVED}": PER_PARTITION}


def test_a_created_range_is_a_key_condition(library: Library):
    # Images 100-139 were created in this range; only they (and no others) are read.
    ordered = sorted(library.images, key=lambda i: i.created_at)
    query = ImageQuery(created_from=ordered[100].created_at, created_to=ordered[139].created_at)

    page = library.repo.list_images(TENANT, query, 100)

    assert sorted(i.image_id for i in page.images) == sorted(i.image_id for i in ordered[100:140])
    assert page.total == 40
    # The page's Queries read the 40, and so do the total's counting Queries.
    assert library.recorder.items_read() == 40 + 40


def test_a_favourites_page_reads_until_it_is_full_and_counts_from_the_counters(library: Library):
    page = library.repo.list_images(TENANT, ImageQuery(is_favorite=True), LIMIT)

    favourites = [i for i in in_order(library.images, "created_at") if i.is_favorite]
    assert [i.image_id for i in page.images] == [i.image_id for i in favourites[:LIMIT]]
    assert page.total == len(favourites)
    # One image in five is a favourite: the partitions are read up to the page's last match
    # (and the one after it, to tell whether more follow), each overshooting by at most a
    # Query page; the total still comes from the counters.
    ordered = in_order(library.images, "created_at")
    examined = ordered.index(favourites[LIMIT]) + 1
    assert library.recorder.operations()["GetItem"] == 1
    assert library.recorder.items_read() <= examined + 2 * PER_PARTITION + 1


def test_a_page_number_reads_the_pages_it_skips(library: Library):
    page = library.repo.list_images(TENANT, ImageQuery(), LIMIT, offset=5 * LIMIT)

    expected = in_order(library.images, "created_at")[5 * LIMIT : 6 * LIMIT]
    assert [i.image_id for i in page.images] == [i.image_id for i in expected]
    # The skipped matches are read too: six pages' worth, across both partitions.
    read = library.recorder.read_per_partition()
    assert sum(read.values()) <= together(6 * LIMIT + 1), read


def test_a_filtered_total_counts_every_match(library: Library):
    page = library.repo.list_images(TENANT, ImageQuery(tags=("fox",)), LIMIT)

    foxes = [i for i in in_order(library.images, "created_at") if "fox" in i.user_tags]
    assert [i.image_id for i in page.images] == [i.image_id for i in foxes[:LIMIT]]
    assert page.total == len(foxes)
    # The total has to examine every image of both partitions: the documented cost.
    assert library.recorder.operations()["GetItem"] == 0
    assert library.recorder.items_read() >= IMAGES


def test_reading_records_back_is_one_get_item_each(library: Library):
    image = library.images[7]
    assert library.repo.get_image(TENANT, image.image_id) == image
    assert library.repo.get_image("another-tenant", image.image_id) is None
    found = library.repo.get_images(TENANT, [i.image_id for i in library.images[:30]])
    assert [i.image_id for i in found] == [i.image_id for i in library.images[:30]]
    assert [(c.operation, c.scanned) for c in library.recorder.calls] == [
        ("GetItem", 1),
        ("GetItem", 1),
        ("BatchGetItem", 30),
    ]

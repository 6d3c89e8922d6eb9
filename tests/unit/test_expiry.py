"""The sweeper's expiry step on a real SqliteRepository and DiskBlobStore: records go first
(with the counters), then the files; a file that cannot be deleted does not stop the rest."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from imagegen import library
from imagegen.config import Settings
from imagegen.records import SAVED, Image, ImageChanges, ImageSummary, utc_now
from imagegen.services import Services
from imagegen.signing import UrlSigner
from imagegen.storage.blobs import DiskBlobStore, blob_key
from imagegen.storage.sqlite import SqliteRepository
from worker.sweeper import Sweeper

PAST = "2026-01-01T00:00:00.000Z"
FUTURE = "2099-01-01T00:00:00.000Z"


class Stores:
    def __init__(self, tmp_path: Path) -> None:
        self.settings = Settings.from_env({"IMAGEGEN_DATA_DIR": str(tmp_path)})
        self.repository = SqliteRepository(self.settings.database_path)
        self.blobs = DiskBlobStore(
            self.settings.blob_dir, UrlSigner("secret", "http://127.0.0.1:8000", 60)
        )

    def image(self, tenant: str = "t1", size: int = 100, **fields: Any) -> Image:
        """An image with both of its files stored."""
        image_id = "img_" + uuid.uuid4().hex
        created_at = fields.pop("created_at", utc_now())
        key = blob_key(tenant, "uploads", created_at, f"{image_id}.png")
        thumb = blob_key(tenant, "thumbnails", created_at, f"{image_id}.webp")
        self.blobs.put(key, b"p" * size)
        self.blobs.put(thumb, b"w")
        image = Image(
            image_id=image_id, tenant_id=tenant, user_id="u1", job_id=None, model_id=None,
            original_prompt=None, revised_prompt=None, negative_prompt=None, width=8, height=8,
            format="png", size_bytes=size, quality=None, style=None, seed=None, blob_key=key,
            thumbnail_key=thumb, created_at=created_at,
            expires_at=fields.pop("expires_at", FUTURE), **fields,
        )  # fmt: skip
        self.repository.add_image(image)
        return image

    def files_exist(self, image: Image) -> list[bool]:
        assert image.thumbnail_key is not None
        return [
            self.blobs.path_of(image.blob_key).exists(),
            self.blobs.path_of(image.thumbnail_key).exists(),
        ]

    def sweeper(self, blobs: Any = None) -> Sweeper:
        # The expiry step needs only the records and the files: no Redis, no queue.
        services = Services(
            settings=self.settings,
            repository=self.repository,
            blobs=blobs or self.blobs,
            signer=UrlSigner("secret", "http://127.0.0.1:8000", 60),
            redis=None,  # type: ignore[arg-type]
            queue=None,  # type: ignore[arg-type]
            webhook_policy=None,  # type: ignore[arg-type]
            webhook_master_secret="",
            budget=None,  # type: ignore[arg-type]
            limits=None,  # type: ignore[arg-type]
            rate_limiter=None,  # type: ignore[arg-type]
        )
        return Sweeper(services)


@pytest.fixture
def stores(tmp_path: Path) -> Stores:
    return Stores(tmp_path)


def test_expired_images_lose_their_records_then_their_files(stores):
    expired = stores.image(size=100, expires_at=PAST)
    favourite = stores.image(size=200, expires_at=PAST)
    stores.repository.update_image("t1", favourite.image_id, ImageChanges(is_favorite=True))
    kept = stores.image(size=300)
    forever = stores.image(size=400, expires_at=None)
    other_tenant = stores.image("t2", size=500, expires_at=PAST)
    assert stores.repository.image_summary("t1") == ImageSummary(4, 0, 4, 1000, 1)

    removed = stores.sweeper().expire_images(datetime.now(UTC))

    assert removed == 3
    for image in (expired, favourite, other_tenant):
        assert stores.repository.get_image(image.tenant_id, image.image_id) is None
        assert stores.files_exist(image) == [False, False]
    for image in (kept, forever):
        assert stores.repository.get_image("t1", image.image_id) is not None
        assert stores.files_exist(image) == [True, True]
    assert stores.repository.image_summary("t1") == ImageSummary(2, 0, 2, 700, 0)
    assert stores.repository.image_summary("t2") == ImageSummary()
    assert stores.sweeper().expire_images(datetime.now(UTC)) == 0


def test_a_whole_sweep_expires_images(stores):
    image = stores.image(expires_at=PAST)
    stores.sweeper().sweep()  # no jobs, so nothing else the sweep does needs Redis
    assert stores.repository.get_image("t1", image.image_id) is None
    assert stores.files_exist(image) == [False, False]


def test_the_expiry_follows_the_retention_settings(stores):
    created_at = "2026-11-01T00:00:00.000Z"
    temporary_until = library.temporary_expiry(stores.settings, created_at)
    saved_until = library.saved_expiry(stores.settings, created_at)
    assert (temporary_until, saved_until) == (
        "2026-11-08T00:00:00.000Z", "2027-01-30T00:00:00.000Z"
    )  # fmt: skip
    temporary = stores.image(created_at=created_at, expires_at=temporary_until)
    saved = stores.image(created_at=created_at, expires_at=temporary_until)
    changes = ImageChanges(save=True, saved_at=utc_now(), saved_expires_at=saved_until)
    assert stores.repository.update_image("t1", saved.image_id, changes) is not None

    between = datetime(2026, 12, 1, tzinfo=UTC)  # after the temporary expiry only
    assert stores.sweeper().expire_images(between) == 1
    assert stores.repository.get_image("t1", temporary.image_id) is None
    assert stores.files_exist(temporary) == [False, False]
    still = stores.repository.get_image("t1", saved.image_id)
    assert still is not None and (still.status, still.expires_at) == (SAVED, saved_until)
    assert stores.repository.image_summary("t1") == ImageSummary(1, 1, 0, 100, 0)
    assert stores.sweeper().expire_images(datetime(2027, 2, 1, tzinfo=UTC)) == 1
    assert stores.repository.image_summary("t1") == ImageSummary()
    keep_saved = Settings.from_env({"IMAGEGEN_SAVED_RETENTION_DAYS": "0"})
    assert library.saved_expiry(keep_saved, created_at) is None


def test_a_deleted_images_tombstone_expires_with_what_is_left_of_its_files(stores):
    image = stores.image(expires_at=PAST)
    assert stores.repository.delete_image("t1", image.image_id, utc_now()) is not None
    stores.blobs.delete(image.blob_key)  # what DELETE /v1/images/{id} did; one file was left
    assert stores.repository.image_summary("t1") == ImageSummary()
    assert stores.sweeper().expire_images(datetime.now(UTC)) == 1
    assert stores.files_exist(image) == [False, False]
    assert stores.repository.image_summary("t1") == ImageSummary()  # not counted out twice


class FailingBlobs:
    """Deletes fail for some keys; every delete checks that the record went first."""

    def __init__(self, stores: Stores, failing: set[str]) -> None:
        self._stores = stores
        self._failing = failing
        self.deleted: list[str] = []

    def delete(self, key: str) -> None:
        with self._stores.repository._connect() as db:
            row = db.execute(
                "SELECT 1 FROM images WHERE blob_key = ? OR thumbnail_key = ?", (key, key)
            ).fetchone()
        assert row is None, "a file was deleted before its record"
        if key in self._failing:
            raise OSError("disk says no")
        self._stores.blobs.delete(key)
        self.deleted.append(key)


def test_a_file_that_cannot_be_deleted_is_logged_and_the_rest_go_on(stores, caplog):
    first = stores.image(expires_at="2026-01-01T00:00:00.000Z")
    second = stores.image(expires_at="2026-01-02T00:00:00.000Z")
    blobs = FailingBlobs(stores, {first.blob_key})

    with caplog.at_level(logging.ERROR, logger="worker.sweeper"):
        assert stores.sweeper(blobs).expire_images(datetime.now(UTC)) == 2

    assert stores.files_exist(first) == [True, False]  # the failed one stays, logged
    assert stores.files_exist(second) == [False, False]
    assert stores.repository.get_image("t1", first.image_id) is None
    failures = [r for r in caplog.records if "expired image's file" in r.getMessage()]
    assert len(failures) == 1 and failures[0].__dict__["key"] == first.blob_key
    assert stores.repository.image_summary("t1") == ImageSummary()

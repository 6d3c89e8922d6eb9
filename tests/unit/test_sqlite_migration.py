"""Older databases open with their images intact: one written before uploads existed
(version 1), one written before the image library (version 3), and one written before
tenants' limits (version 4)."""

from __future__ import annotations

import sqlite3

from imagegen.records import (
    GENERATED,
    SAVED,
    UPLOADED,
    ApiKey,
    Image,
    ImageChanges,
    ImagePage,
    ImageQuery,
    ImageSummary,
    TenantLimits,
    utc_now,
)
from imagegen.storage.sqlite import SCHEMA_VERSION, SqliteRepository
from tests.contract.test_jobs import new_job

# The images table as the text-to-image release created it (user_version 0).
VERSION_1_IMAGES = """
CREATE TABLE images (
    image_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, job_id TEXT,
    model_id TEXT NOT NULL, original_prompt TEXT NOT NULL, revised_prompt TEXT NOT NULL,
    negative_prompt TEXT, width INTEGER NOT NULL, height INTEGER NOT NULL,
    format TEXT NOT NULL, size_bytes INTEGER NOT NULL, quality TEXT NOT NULL,
    style TEXT NOT NULL, seed INTEGER, blob_key TEXT NOT NULL, thumbnail_key TEXT,
    created_at TEXT NOT NULL, status TEXT NOT NULL, chat_id TEXT,
    user_tags_json TEXT NOT NULL DEFAULT '[]', description TEXT
);
CREATE INDEX images_by_tenant ON images (tenant_id, created_at);
INSERT INTO images VALUES ('img_old', 't1', 'u1', 'job_1', 'amazon.nova-canvas-v1:0', 'a fox',
    'a fox', NULL, 1024, 1024, 'png', 123, 'standard', 'vivid', 7, 't1/generated/x.png',
    't1/thumbnails/x.webp', '2026-11-01T00:00:00.000Z', 'temporary', NULL, '["a"]', NULL);
"""


def test_old_images_survive_and_uploads_fit(tmp_path):
    path = tmp_path / "imagegen.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(VERSION_1_IMAGES)

    repository = SqliteRepository(path)

    [old] = repository.get_images("t1", ["img_old"])
    assert (old.model_id, old.original_prompt, old.seed, old.user_tags) == (
        "amazon.nova-canvas-v1:0", "a fox", 7, ["a"]
    )  # fmt: skip
    assert old.image_type == GENERATED
    upload = Image(
        image_id="img_new", tenant_id="t1", user_id="u1", job_id=None, model_id=None,
        original_prompt=None, revised_prompt=None, negative_prompt=None, width=64, height=64,
        format="png", size_bytes=10, quality=None, style=None, seed=None,
        blob_key="t1/uploads/y.png", thumbnail_key=None,
        created_at="2026-11-02T00:00:00.000Z", image_type=UPLOADED,
    )  # fmt: skip
    repository.add_image(upload)
    assert repository.get_images("t1", ["img_new"]) == [upload]
    # Opening again is a no-op: the version is recorded.
    SqliteRepository(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT count(*) FROM images").fetchone()[0] == 2


# A version 3 database: the images table before the image library (no categories, flags,
# saved_at, expiry, counts or search text) and no counters table.
VERSION_3_IMAGES = """
CREATE TABLE images (
    image_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, job_id TEXT,
    model_id TEXT, original_prompt TEXT, revised_prompt TEXT, negative_prompt TEXT,
    width INTEGER NOT NULL, height INTEGER NOT NULL, format TEXT NOT NULL,
    size_bytes INTEGER NOT NULL, quality TEXT, style TEXT, seed INTEGER,
    blob_key TEXT NOT NULL, thumbnail_key TEXT, created_at TEXT NOT NULL,
    status TEXT NOT NULL, chat_id TEXT, user_tags_json TEXT NOT NULL DEFAULT '[]',
    description TEXT, image_type TEXT NOT NULL DEFAULT 'generated'
);
CREATE INDEX images_by_tenant ON images (tenant_id, created_at);
INSERT INTO images VALUES ('img_fox', 't1', 'u1', 'job_1', 'amazon.nova-canvas-v1:0',
    'A Red FOX', 'A Red FOX', NULL, 1024, 1024, 'png', 1000, 'standard', 'vivid', 7,
    't1/generated/fox.png', 't1/thumbnails/fox.webp', '2026-11-01T00:00:00.000Z',
    'temporary', 'chat_1', '["fox"]', 'For the Calendar', 'generated');
INSERT INTO images VALUES ('img_up', 't1', 'u1', NULL, NULL, NULL, NULL, NULL, 64, 64,
    'jpeg', 300, NULL, NULL, NULL, 't1/uploads/up.jpeg', 't1/thumbnails/up.webp',
    '2026-11-02T00:00:00.000Z', 'temporary', NULL, '[]', NULL, 'uploaded');
INSERT INTO images VALUES ('img_other', 't2', 'u2', 'job_2', 'amazon.nova-canvas-v1:0',
    'an owl', 'an owl', NULL, 512, 512, 'png', 50, 'standard', 'vivid', 1,
    't2/generated/owl.png', NULL, '2026-11-03T00:00:00.000Z', 'temporary', NULL, '[]', NULL,
    'generated');
PRAGMA user_version = 3;
"""


def test_a_version_3_database_gains_the_library_and_keeps_its_images(tmp_path):
    path = tmp_path / "imagegen.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(VERSION_3_IMAGES)

    repository = SqliteRepository(path)

    fox = repository.get_image("t1", "img_fox")
    assert fox is not None
    assert (fox.original_prompt, fox.chat_id, fox.user_tags, fox.description) == (
        "A Red FOX", "chat_1", ["fox"], "For the Calendar"
    )  # fmt: skip
    # The library's fields start empty; old images keep no expiry (kept until deleted).
    assert (fox.categories, fox.is_favorite, fox.is_public, fox.saved_at) == (
        [],
        False,
        False,
        None,
    )
    assert (fox.expires_at, fox.view_count, fox.download_count) == (None, 0, 0)
    # The counters were counted from the images already there, per tenant.
    assert repository.image_summary("t1") == ImageSummary(2, 0, 2, 1300, 0)
    assert repository.image_summary("t2") == ImageSummary(1, 0, 1, 50, 0)
    # The search text was filled in for the old rows.
    assert _ids(repository.list_images("t1", ImageQuery(search="red fox"), 10)) == ["img_fox"]
    assert _ids(repository.list_images("t1", ImageQuery(search="calendar"), 10)) == ["img_fox"]
    assert _ids(repository.list_images("t1", ImageQuery(), 10)) == ["img_up", "img_fox"]
    page = repository.list_images("t1", ImageQuery(image_type=UPLOADED), 10)
    assert (_ids(page), page.total) == (["img_up"], 1)

    # Old images take part in everything new: saving, favourites, deletes, counters.
    saved = repository.update_image(
        "t1",
        "img_fox",
        ImageChanges(is_favorite=True, save=True, saved_at=utc_now(), saved_expires_at=None),
    )
    assert saved is not None and (saved.status, saved.is_favorite) == (SAVED, True)
    assert repository.delete_image("t1", "img_up", utc_now()) is not None
    assert repository.image_summary("t1") == ImageSummary(1, 1, 0, 1000, 1)
    assert repository.expire_images(utc_now(), 10) == []  # NULL expiry: never expires
    assert repository.recount_images("t1") == repository.image_summary("t1")

    # Opening again changes nothing, and the counters are not counted twice.
    SqliteRepository(path)
    assert repository.image_summary("t1") == ImageSummary(1, 1, 0, 1000, 1)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
        assert db.execute("SELECT count(*) FROM images").fetchone()[0] == 3  # with a tombstone
        columns = {row[1] for row in db.execute("PRAGMA table_info(images)")}
        assert {"categories_json", "expires_at", "search_text", "view_count"} <= columns


def test_a_fresh_database_starts_at_the_latest_version_with_empty_counters(tmp_path):
    repository = SqliteRepository(tmp_path / "imagegen.sqlite3")
    assert repository.image_summary("t1") == ImageSummary()
    page = repository.list_images("t1", ImageQuery(), 10)
    assert (page.images, page.total, page.next_after) == ([], 0, None)
    with sqlite3.connect(tmp_path / "imagegen.sqlite3") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_version_4_database_gains_tenant_limits_and_keeps_its_records(tmp_path):
    path = tmp_path / "imagegen.sqlite3"
    repository = SqliteRepository(path)
    key = ApiKey("hash", "ig_abc", "t1", "u1", "default", utc_now())
    repository.add_api_key(key)
    # Version 4 is this schema without the tenant_limits table.
    with sqlite3.connect(path) as db:
        db.executescript("DROP TABLE tenant_limits; PRAGMA user_version = 4;")

    repository = SqliteRepository(path)

    assert repository.find_api_key("hash") == key
    assert repository.get_tenant_limits("t1") is None
    limits = TenantLimits("t1", requests_per_minute=60, updated_at=utc_now())
    repository.put_tenant_limits(limits)
    assert SqliteRepository(path).get_tenant_limits("t1") == limits
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_version_5_database_gains_credits_and_its_jobs_stay_unmetered(tmp_path):
    path = tmp_path / "imagegen.sqlite3"
    repository = SqliteRepository(path)
    job = new_job()
    repository.add_job(job)
    # Version 5 is this schema without the credit tables and jobs' reserved_credits.
    with sqlite3.connect(path) as db:
        db.executescript(
            "DROP TABLE credit_accounts; DROP TABLE credit_ledger; "
            "ALTER TABLE jobs DROP COLUMN reserved_credits; PRAGMA user_version = 5;"
        )

    repository = SqliteRepository(path)

    loaded = repository.load_job(job.job_id)
    assert loaded is not None and loaded.reserved_credits is None
    assert repository.credit_account("t1") is None
    assert repository.grant_credits("t1", 500, utc_now(), "first grant").balance == 500
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6


def _ids(page: ImagePage) -> list[str]:
    return [image.image_id for image in page.images]

"""A database written before uploads existed opens with its images intact."""

from __future__ import annotations

import sqlite3

from imagegen.records import GENERATED, UPLOADED, Image
from imagegen.storage.sqlite import SCHEMA_VERSION, SqliteRepository

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

"""The repository on SQLite: the embedded default for running without AWS.

One connection per operation: the API's threads and the worker's forked processes each open
their own, and WAL mode lets readers and the single writer proceed together.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from imagegen.records import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    PROCESSING,
    ApiKey,
    Image,
    Job,
)

IMAGES_TABLE = """
CREATE TABLE IF NOT EXISTS images (
    image_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    job_id TEXT,
    model_id TEXT,
    original_prompt TEXT,
    revised_prompt TEXT,
    negative_prompt TEXT,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    format TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    quality TEXT,
    style TEXT,
    seed INTEGER,
    blob_key TEXT NOT NULL,
    thumbnail_key TEXT,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    chat_id TEXT,
    user_tags_json TEXT NOT NULL DEFAULT '[]',
    description TEXT,
    image_type TEXT NOT NULL DEFAULT 'generated'
);
"""
SCHEMA = (
    IMAGES_TABLE
    + """
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    key_prefix TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    request_json TEXT NOT NULL,
    plan_json TEXT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT,
    progress INTEGER NOT NULL DEFAULT 0,
    error_json TEXT,
    image_ids_json TEXT NOT NULL DEFAULT '[]',
    cost_json TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    priority INTEGER NOT NULL DEFAULT 5,
    retry_count INTEGER NOT NULL DEFAULT 0,
    webhook_url TEXT,
    webhook_delivered INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_tenant ON jobs (tenant_id, created_at);
CREATE INDEX IF NOT EXISTS images_by_tenant ON images (tenant_id, created_at);
"""
)

_JOB_COLUMNS = (
    "job_id, tenant_id, user_id, request_id, kind, request_json, plan_json, status, "
    "status_message, progress, error_json, image_ids_json, cost_json, created_at, started_at, "
    "completed_at, priority, retry_count, webhook_url, webhook_delivered"
)
_IMAGE_COLUMNS = (
    "image_id, tenant_id, user_id, job_id, model_id, original_prompt, revised_prompt, "
    "negative_prompt, width, height, format, size_bytes, quality, style, seed, blob_key, "
    "thumbnail_key, created_at, status, chat_id, user_tags_json, description, image_type"
)
# PRAGMA user_version: 1 = images without image_type and with NOT NULL prompt columns
# (before uploads); 2 = this schema.
SCHEMA_VERSION = 2


class SqliteRepository:
    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            _migrate(db)
            db.executescript(SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA busy_timeout=30000")
            yield db
        finally:
            db.close()

    def add_api_key(self, key: ApiKey) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO api_keys VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key.key_hash,
                    key.key_prefix,
                    key.tenant_id,
                    key.user_id,
                    key.name,
                    key.created_at,
                ),
            )

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,)).fetchone()
        return ApiKey(**dict(row)) if row else None

    def add_job(self, job: Job) -> None:
        with self._connect() as db:
            db.execute(
                f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES ({', '.join('?' * 20)})",
                (
                    job.job_id, job.tenant_id, job.user_id, job.request_id, job.kind,
                    json.dumps(job.request), json.dumps(job.plan), job.status,
                    job.status_message, job.progress, _dumps(job.error),
                    json.dumps(job.image_ids), _dumps(job.cost), job.created_at, job.started_at,
                    job.completed_at, job.priority, job.retry_count, job.webhook_url,
                    int(job.webhook_delivered),
                ),
            )  # fmt: skip

    def get_job(self, tenant_id: str, job_id: str) -> Job | None:
        with self._connect() as db:
            row = db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE job_id = ? AND tenant_id = ?",
                (job_id, tenant_id),
            ).fetchone()
        return _job(row) if row else None

    def load_job(self, job_id: str) -> Job | None:
        with self._connect() as db:
            row = db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)
            ).fetchone()
        return _job(row) if row else None

    def start_job(self, job_id: str, started_at: str) -> bool:
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE jobs SET status = ?, started_at = ?, status_message = ? "
                "WHERE job_id = ? AND status = ?",
                (PROCESSING, started_at, "generating", job_id, PENDING),
            )
        return cursor.rowcount == 1

    def update_progress(self, job_id: str, progress: int, message: str) -> bool:
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE jobs SET progress = ?, status_message = ? WHERE job_id = ? AND status = ?",
                (progress, message, job_id, PROCESSING),
            )
        return cursor.rowcount == 1

    def cancel_job(self, tenant_id: str, job_id: str, cancelled_at: str) -> bool:
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE jobs SET status = ?, status_message = ?, completed_at = ? "
                "WHERE job_id = ? AND tenant_id = ? AND status IN (?, ?)",
                (CANCELLED, "cancelled", cancelled_at, job_id, tenant_id, PENDING, PROCESSING),
            )
        return cursor.rowcount == 1

    def retry_job(self, tenant_id: str, job_id: str) -> bool:
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE jobs SET status = ?, status_message = ?, retry_count = retry_count + 1, "
                "progress = 0, error_json = NULL, started_at = NULL, completed_at = NULL "
                "WHERE job_id = ? AND tenant_id = ? AND status = ?",
                (PENDING, "queued for retry", job_id, tenant_id, FAILED),
            )
        return cursor.rowcount == 1

    def complete_job(
        self, job_id: str, images: list[Image], cost: dict[str, float], completed_at: str
    ) -> bool:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                cursor = db.execute(
                    "UPDATE jobs SET status = ?, progress = 100, status_message = ?, "
                    "image_ids_json = ?, cost_json = ?, completed_at = ? "
                    "WHERE job_id = ? AND status = ?",
                    (
                        COMPLETED,
                        "completed",
                        json.dumps([image.image_id for image in images]),
                        json.dumps(cost),
                        completed_at,
                        job_id,
                        PROCESSING,
                    ),
                )
                if cursor.rowcount != 1:  # cancelled meanwhile: record nothing
                    db.execute("ROLLBACK")
                    return False
                db.executemany(
                    f"INSERT INTO images ({_IMAGE_COLUMNS}) VALUES ({', '.join('?' * 23)})",
                    [_image_row(image) for image in images],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return True

    def fail_job(self, job_id: str, error: dict[str, Any], completed_at: str) -> bool:
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE jobs SET status = ?, status_message = ?, error_json = ?, completed_at = ? "
                "WHERE job_id = ? AND status IN (?, ?)",
                (FAILED, error["message"], json.dumps(error), completed_at, job_id, PENDING,
                 PROCESSING),
            )  # fmt: skip
        return cursor.rowcount == 1

    def add_image(self, image: Image) -> None:
        with self._connect() as db:
            db.execute(
                f"INSERT INTO images ({_IMAGE_COLUMNS}) VALUES ({', '.join('?' * 23)})",
                _image_row(image),
            )

    def get_images(self, tenant_id: str, image_ids: list[str]) -> list[Image]:
        if not image_ids:
            return []
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {_IMAGE_COLUMNS} FROM images WHERE tenant_id = ? "
                f"AND image_id IN ({', '.join('?' * len(image_ids))})",
                (tenant_id, *image_ids),
            ).fetchall()
        by_id = {row["image_id"]: _image(row) for row in rows}
        return [by_id[i] for i in image_ids if i in by_id]


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a database written by an older version up to SCHEMA_VERSION, keeping its rows."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    has_images = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'images'"
    ).fetchone()
    if version >= SCHEMA_VERSION or not has_images:
        return
    # SQLite cannot drop NOT NULL in place: rebuild the table, in one transaction.
    old_columns = _IMAGE_COLUMNS.removesuffix(", image_type")
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("ALTER TABLE images RENAME TO images_v1")
        db.execute("DROP INDEX IF EXISTS images_by_tenant")
        db.execute(IMAGES_TABLE)
        db.execute(
            f"INSERT INTO images ({old_columns}, image_type) "
            f"SELECT {old_columns}, 'generated' FROM images_v1"
        )
        db.execute("DROP TABLE images_v1")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _job(row: sqlite3.Row) -> Job:
    return Job(
        job_id=row["job_id"],
        tenant_id=row["tenant_id"],
        user_id=row["user_id"],
        request_id=row["request_id"],
        kind=row["kind"],
        request=json.loads(row["request_json"]),
        plan=json.loads(row["plan_json"]),
        status=row["status"],
        status_message=row["status_message"],
        progress=row["progress"],
        error=_loads(row["error_json"]),
        image_ids=json.loads(row["image_ids_json"]),
        cost=_loads(row["cost_json"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        priority=row["priority"],
        retry_count=row["retry_count"],
        webhook_url=row["webhook_url"],
        webhook_delivered=bool(row["webhook_delivered"]),
    )


def _image_row(image: Image) -> tuple[Any, ...]:
    return (
        image.image_id, image.tenant_id, image.user_id, image.job_id, image.model_id,
        image.original_prompt, image.revised_prompt, image.negative_prompt, image.width,
        image.height, image.format, image.size_bytes, image.quality, image.style, image.seed,
        image.blob_key, image.thumbnail_key, image.created_at, image.status, image.chat_id,
        json.dumps(image.user_tags), image.description, image.image_type,
    )  # fmt: skip


def _image(row: sqlite3.Row) -> Image:
    values = dict(row)
    values["user_tags"] = json.loads(values.pop("user_tags_json"))
    return Image(**values)

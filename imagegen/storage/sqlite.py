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
    DELETED,
    FAILED,
    LIBRARY_STATUSES,
    PENDING,
    PROCESSING,
    SAVED,
    TEMPORARY,
    WEBHOOK_DELIVERED,
    WEBHOOK_PENDING,
    ApiKey,
    Batch,
    IdempotencyKey,
    Image,
    ImageChanges,
    ImagePage,
    ImageQuery,
    ImageSummary,
    Job,
    Webhook,
    WebhookAttempt,
    image_sort_key,
    search_text,
)
from imagegen.storage.repository import IdempotencyKeyTaken

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
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    job_ids_json TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    completed_at TEXT,
    webhook_url TEXT,
    webhook_delivered INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE TABLE IF NOT EXISTS webhooks (
    webhook_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    event TEXT NOT NULL,
    url TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    body TEXT,
    delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS webhooks_due ON webhooks (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    webhook_id TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    event TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    attempted_at TEXT NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms REAL NOT NULL,
    PRIMARY KEY (webhook_id, attempt)
);
CREATE INDEX IF NOT EXISTS webhook_attempts_by_subject ON webhook_attempts (subject_id);
"""
)
# Columns jobs gained after the text-to-image release; added in place to older databases.
JOB_COLUMNS_ADDED = {
    "batch_id": "TEXT",
    "queued_at": "TEXT",
    "run_id": "TEXT",
    "lease_expires_at": "TEXT",
    "recoveries": "INTEGER NOT NULL DEFAULT 0",
}
JOB_INDEXES = """
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, queued_at);
CREATE INDEX IF NOT EXISTS jobs_by_lease ON jobs (status, lease_expires_at);
CREATE INDEX IF NOT EXISTS jobs_by_batch ON jobs (batch_id);
CREATE INDEX IF NOT EXISTS jobs_by_user ON jobs (tenant_id, user_id, created_at);
"""

# Columns images gained with the image library (version 4); added in place to older
# databases, whose rows keep a NULL expiry (kept until deleted).
IMAGE_COLUMNS_ADDED = {
    "categories_json": "TEXT NOT NULL DEFAULT '[]'",
    "is_favorite": "INTEGER NOT NULL DEFAULT 0",
    "is_public": "INTEGER NOT NULL DEFAULT 0",
    "saved_at": "TEXT",
    "expires_at": "TEXT",
    "view_count": "INTEGER NOT NULL DEFAULT 0",
    "download_count": "INTEGER NOT NULL DEFAULT 0",
    # records.search_text(): the case-folded prompts and description a search matches.
    "search_text": "TEXT NOT NULL DEFAULT ''",
    "deleted_at": "TEXT",
}
# The library's counters: per tenant and status (temporary, saved), moved in the same
# transaction as every image change, so the summary is read, never summed.
IMAGE_COUNTERS_TABLE = """
CREATE TABLE IF NOT EXISTS image_counters (
    tenant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    favorites INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, status)
);
"""
# Each listing order as SQL: exactly the strings records.image_sort_key() builds, so that
# order, `after` and the cursors that carry it agree with the other backend.
_SORT_KEYS = {
    "created_at": "(created_at || '#' || image_id)",
    "saved_at": "(COALESCE(saved_at, '') || '#' || image_id)",
    "view_count": "(printf('%012d', view_count) || '#' || image_id)",
    "size_bytes": "(printf('%012d', size_bytes) || '#' || image_id)",
}
IMAGE_INDEXES = (
    "\n".join(
        f"CREATE INDEX IF NOT EXISTS images_by_{sort} ON images (tenant_id, {expression});"
        for sort, expression in _SORT_KEYS.items()
    )
    + """
CREATE INDEX IF NOT EXISTS images_by_expiry ON images (expires_at);
"""
)

_JOB_FIELDS = (
    "job_id", "tenant_id", "user_id", "request_id", "kind", "request", "plan", "status",
    "status_message", "progress", "error", "image_ids", "cost", "created_at", "started_at",
    "completed_at", "priority", "retry_count", "webhook_url", "webhook_delivered", "batch_id",
    "queued_at", "run_id", "lease_expires_at", "recoveries",
)  # fmt: skip
# Fields kept as JSON text, in columns named <field>_json.
_JSON_FIELDS = frozenset({"request", "plan", "error", "image_ids", "cost"})
_JOB_COLUMNS = ", ".join(f"{f}_json" if f in _JSON_FIELDS else f for f in _JOB_FIELDS)
# The images table's columns up to version 3, which the version 1 rebuild copies.
_V3_IMAGE_COLUMNS = (
    "image_id, tenant_id, user_id, job_id, model_id, original_prompt, revised_prompt, "
    "negative_prompt, width, height, format, size_bytes, quality, style, seed, blob_key, "
    "thumbnail_key, created_at, status, chat_id, user_tags_json, description, image_type"
)
# Every Image field, as columns (lists as JSON text in <field>_json).
_IMAGE_COLUMNS = (
    _V3_IMAGE_COLUMNS + ", categories_json, is_favorite, is_public, saved_at, expires_at, "
    "view_count, download_count"
)
_IMAGE_INSERT = (
    f"INSERT INTO images ({_IMAGE_COLUMNS}, search_text) "
    f"VALUES ({', '.join('?' * (_IMAGE_COLUMNS.count(',') + 2))})"
)
_BATCH_COLUMNS = (
    "batch_id, tenant_id, user_id, request_id, job_ids_json, status, created_at, completed_at, "
    "webhook_url, webhook_delivered"
)
_WEBHOOK_COLUMNS = (
    "webhook_id, tenant_id, subject_id, event, url, created_at, status, attempts, "
    "next_attempt_at, body, delivered_at"
)
# PRAGMA user_version: 1 = images without image_type and with NOT NULL prompt columns
# (before uploads); 2 = jobs without batches, leases and recoveries; 3 = images without the
# library's fields, counters and expiry; 4 = this schema.
SCHEMA_VERSION = 4


class SqliteRepository:
    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            _migrate(db)
            db.executescript(SCHEMA)
            _add_job_columns(db)
            db.executescript(JOB_INDEXES)
            _add_image_library(db)
            db.executescript(IMAGE_INDEXES)
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

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the write lock at once so reads inside it are current."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every read inside it sees the same state."""
        with self._connect() as db:
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")

    def _update(self, sql: str, params: tuple[Any, ...]) -> bool:
        with self._connect() as db:
            return db.execute(sql, params).rowcount == 1

    # --- API keys -----------------------------------------------------------------------

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

    # --- jobs ---------------------------------------------------------------------------

    def add_job(self, job: Job, idempotency: IdempotencyKey | None = None) -> None:
        with self._transaction() as db:
            if idempotency is not None:
                _bind_idempotency_key(db, idempotency)
            _insert_job(db, job)

    def get_job(self, tenant_id: str, job_id: str) -> Job | None:
        return self._one_job("job_id = ? AND tenant_id = ?", (job_id, tenant_id))

    def load_job(self, job_id: str) -> Job | None:
        return self._one_job("job_id = ?", (job_id,))

    def _one_job(self, where: str, params: tuple[Any, ...]) -> Job | None:
        with self._connect() as db:
            row = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {where}", params).fetchone()
        return _job(row) if row else None

    def _jobs(self, where: str, params: tuple[Any, ...], order: str, limit: int) -> list[Job]:
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY {order} LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [_job(row) for row in rows]

    def list_jobs(
        self,
        tenant_id: str | None,
        status: str | None,
        limit: int,
        after: tuple[str, str] | None = None,
        user_id: str | None = None,
    ) -> list[Job]:
        conditions, params = ["1 = 1"], []
        for column, value in (("tenant_id", tenant_id), ("status", status), ("user_id", user_id)):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value)
        if after is not None:
            conditions.append("(created_at < ? OR (created_at = ? AND job_id < ?))")
            params.extend((after[0], after[0], after[1]))
        return self._jobs(
            " AND ".join(conditions), tuple(params), "created_at DESC, job_id DESC", limit
        )

    def start_job(self, job_id: str, run_id: str, started_at: str, lease_expires_at: str) -> bool:
        return self._update(
            "UPDATE jobs SET status = ?, started_at = ?, status_message = ?, run_id = ?, "
            "lease_expires_at = ?, progress = 0 WHERE job_id = ? AND status = ?",
            (PROCESSING, started_at, "generating", run_id, lease_expires_at, job_id, PENDING),
        )

    def renew_lease(self, job_id: str, run_id: str, lease_expires_at: str) -> bool:
        return self._update(
            "UPDATE jobs SET lease_expires_at = ? WHERE job_id = ? AND status = ? AND run_id = ?",
            (lease_expires_at, job_id, PROCESSING, run_id),
        )

    def update_progress(self, job_id: str, run_id: str, progress: int, message: str) -> bool:
        return self._update(
            "UPDATE jobs SET progress = ?, status_message = ? "
            "WHERE job_id = ? AND status = ? AND run_id = ?",
            (progress, message, job_id, PROCESSING, run_id),
        )

    def cancel_job(self, tenant_id: str, job_id: str, cancelled_at: str) -> bool:
        return self._update(
            "UPDATE jobs SET status = ?, status_message = ?, completed_at = ?, "
            "lease_expires_at = NULL WHERE job_id = ? AND tenant_id = ? AND status IN (?, ?)",
            (CANCELLED, "cancelled", cancelled_at, job_id, tenant_id, PENDING, PROCESSING),
        )

    def retry_job(self, tenant_id: str, job_id: str, queued_at: str) -> bool:
        return self._update(
            "UPDATE jobs SET status = ?, status_message = ?, retry_count = retry_count + 1, "
            "progress = 0, error_json = NULL, started_at = NULL, completed_at = NULL, "
            "run_id = NULL, recoveries = 0, queued_at = ? WHERE job_id = ? AND tenant_id = ? AND status = ?",
            (PENDING, "queued for retry", queued_at, job_id, tenant_id, FAILED),
        )

    def requeue_job(self, job_id: str, run_id: str, queued_at: str, message: str) -> bool:
        return self._update(
            "UPDATE jobs SET status = ?, status_message = ?, recoveries = recoveries + 1, "
            "progress = 0, started_at = NULL, run_id = NULL, lease_expires_at = NULL, "
            "queued_at = ? WHERE job_id = ? AND status = ? AND run_id = ?",
            (PENDING, message, queued_at, job_id, PROCESSING, run_id),
        )

    def mark_queued(self, job_id: str, queued_at: str, message: str | None = None) -> bool:
        return self._update(
            "UPDATE jobs SET queued_at = ?, status_message = COALESCE(?, status_message) "
            "WHERE job_id = ? AND status = ?",
            (queued_at, message, job_id, PENDING),
        )

    def jobs_with_expired_leases(self, now: str, limit: int) -> list[Job]:
        return self._jobs(
            "status = ? AND lease_expires_at < ?", (PROCESSING, now), "lease_expires_at", limit
        )

    def pending_jobs(self, queued_before: str, limit: int) -> list[Job]:
        return self._jobs(
            "status = ? AND COALESCE(queued_at, created_at) < ?",
            (PENDING, queued_before),
            "COALESCE(queued_at, created_at)",
            limit,
        )

    def complete_job(
        self,
        job_id: str,
        run_id: str,
        images: list[Image],
        cost: dict[str, float],
        completed_at: str,
        webhook: Webhook | None = None,
    ) -> bool:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE jobs SET status = ?, progress = 100, status_message = ?, "
                "image_ids_json = ?, cost_json = ?, completed_at = ?, lease_expires_at = NULL "
                "WHERE job_id = ? AND status = ? AND run_id = ?",
                (
                    COMPLETED,
                    "completed",
                    json.dumps([image.image_id for image in images]),
                    json.dumps(cost),
                    completed_at,
                    job_id,
                    PROCESSING,
                    run_id,
                ),
            )
            if cursor.rowcount != 1:  # cancelled or taken back meanwhile: record nothing
                return False
            for image in images:
                _insert_image(db, image)
            if webhook is not None:
                _insert_webhook(db, webhook)
        return True

    def fail_job(
        self,
        job_id: str,
        error: dict[str, Any],
        completed_at: str,
        run_id: str | None = None,
        webhook: Webhook | None = None,
    ) -> bool:
        with self._transaction() as db:
            values = (FAILED, error["message"], json.dumps(error), completed_at, job_id)
            set_failed = (
                "UPDATE jobs SET status = ?, status_message = ?, error_json = ?, "
                "completed_at = ?, lease_expires_at = NULL WHERE job_id = ? "
            )
            if run_id is None:
                cursor = db.execute(set_failed + "AND status = ?", (*values, PENDING))
            else:
                cursor = db.execute(
                    set_failed + "AND status = ? AND run_id = ?", (*values, PROCESSING, run_id)
                )
            if cursor.rowcount != 1:
                return False
            if webhook is not None:
                _insert_webhook(db, webhook)
        return True

    # --- batches ------------------------------------------------------------------------

    def add_batch(
        self, batch: Batch, jobs: list[Job], idempotency: IdempotencyKey | None = None
    ) -> None:
        with self._transaction() as db:
            if idempotency is not None:
                _bind_idempotency_key(db, idempotency)
            db.execute(
                f"INSERT INTO batches ({_BATCH_COLUMNS}) VALUES ({', '.join('?' * 10)})",
                (
                    batch.batch_id, batch.tenant_id, batch.user_id, batch.request_id,
                    json.dumps(batch.job_ids), batch.status, batch.created_at,
                    batch.completed_at, batch.webhook_url, int(batch.webhook_delivered),
                ),
            )  # fmt: skip
            for job in jobs:
                _insert_job(db, job)

    def get_batch(self, tenant_id: str, batch_id: str) -> Batch | None:
        with self._connect() as db:
            row = db.execute(
                f"SELECT {_BATCH_COLUMNS} FROM batches WHERE batch_id = ? AND tenant_id = ?",
                (batch_id, tenant_id),
            ).fetchone()
        if row is None:
            return None
        values = dict(row)
        values["job_ids"] = json.loads(values.pop("job_ids_json"))
        values["webhook_delivered"] = bool(values["webhook_delivered"])
        return Batch(**values)

    def batch_job_states(self, batch_id: str) -> dict[str, str]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT job_id, status FROM jobs WHERE batch_id = ?", (batch_id,)
            ).fetchall()
        return {row["job_id"]: row["status"] for row in rows}

    def finish_batch_if_done(
        self, batch_id: str, completed_at: str, webhook: Webhook | None = None
    ) -> bool:
        with self._transaction() as db:
            unfinished = db.execute(
                "SELECT COUNT(*) FROM jobs WHERE batch_id = ? AND status IN (?, ?)",
                (batch_id, PENDING, PROCESSING),
            ).fetchone()[0]
            if unfinished:
                return False
            cursor = db.execute(
                "UPDATE batches SET status = ?, completed_at = ? WHERE batch_id = ? AND status = ?",
                (COMPLETED, completed_at, batch_id, PENDING),
            )
            if cursor.rowcount != 1:
                return False
            if webhook is not None:
                _insert_webhook(db, webhook)
        return True

    # --- idempotency keys ---------------------------------------------------------------

    def find_idempotency_key(self, tenant_id: str, key: str, now: str) -> IdempotencyKey | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM idempotency_keys WHERE tenant_id = ? AND key = ? AND expires_at > ?",
                (tenant_id, key, now),
            ).fetchone()
        return IdempotencyKey(**dict(row)) if row else None

    def delete_idempotency_key(self, tenant_id: str, key: str) -> None:
        with self._connect() as db:
            db.execute(
                "DELETE FROM idempotency_keys WHERE tenant_id = ? AND key = ?", (tenant_id, key)
            )

    def delete_expired_idempotency_keys(self, now: str) -> int:
        with self._connect() as db:
            return db.execute("DELETE FROM idempotency_keys WHERE expires_at <= ?", (now,)).rowcount

    # --- webhooks -----------------------------------------------------------------------

    def claim_due_webhooks(self, now: str, claim_until: str, limit: int) -> list[Webhook]:
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE status = ? AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at LIMIT ?",
                (WEBHOOK_PENDING, now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE webhooks SET next_attempt_at = ? WHERE webhook_id = ?",
                [(claim_until, row["webhook_id"]) for row in rows],
            )
        return [Webhook(**dict(row)) for row in rows]

    def record_webhook_attempt(
        self,
        attempt: WebhookAttempt,
        body: str | None,
        status: str,
        next_attempt_at: str | None,
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO webhook_attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    attempt.webhook_id, attempt.subject_id, attempt.tenant_id, attempt.event,
                    attempt.attempt, attempt.attempted_at, attempt.status_code, attempt.error,
                    attempt.duration_ms,
                ),
            )  # fmt: skip
            delivered_at = attempt.attempted_at if status == WEBHOOK_DELIVERED else None
            db.execute(
                "UPDATE webhooks SET status = ?, attempts = ?, next_attempt_at = ?, body = ?, "
                "delivered_at = ? WHERE webhook_id = ?",
                (status, attempt.attempt, next_attempt_at, body, delivered_at, attempt.webhook_id),
            )
            if status == WEBHOOK_DELIVERED:
                for table, column in (("jobs", "job_id"), ("batches", "batch_id")):
                    db.execute(
                        f"UPDATE {table} SET webhook_delivered = 1 WHERE {column} = ?",
                        (attempt.subject_id,),
                    )

    def webhook_attempts(self, tenant_id: str, subject_id: str) -> list[WebhookAttempt]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM webhook_attempts WHERE subject_id = ? AND tenant_id = ? "
                "ORDER BY attempted_at, attempt",
                (subject_id, tenant_id),
            ).fetchall()
        return [WebhookAttempt(**dict(row)) for row in rows]

    # --- images -------------------------------------------------------------------------

    def add_image(self, image: Image) -> None:
        with self._transaction() as db:
            _insert_image(db, image)

    def get_images(self, tenant_id: str, image_ids: list[str]) -> list[Image]:
        if not image_ids:
            return []
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {_IMAGE_COLUMNS} FROM images WHERE tenant_id = ? AND status <> ? "
                f"AND image_id IN ({', '.join('?' * len(image_ids))})",
                (tenant_id, DELETED, *image_ids),
            ).fetchall()
        by_id = {row["image_id"]: _image(row) for row in rows}
        return [by_id[i] for i in image_ids if i in by_id]

    # --- the image library --------------------------------------------------------------

    def get_image(self, tenant_id: str, image_id: str) -> Image | None:
        with self._connect() as db:
            return _live_image(db, tenant_id, image_id)

    def list_images(
        self,
        tenant_id: str,
        query: ImageQuery,
        limit: int,
        offset: int = 0,
        after: str | None = None,
    ) -> ImagePage:
        sort_key = _SORT_KEYS[query.sort]
        where, params = _image_filters(tenant_id, query)
        page_where, page_params = where, list(params)
        if after is not None:
            page_where += f" AND {sort_key} {'<' if query.descending else '>'} ?"
            page_params.append(after)
            offset = 0
        order = "DESC" if query.descending else "ASC"
        # One read transaction: the page and its total come from the same snapshot.
        with self._snapshot() as db:
            rows = db.execute(
                f"SELECT {_IMAGE_COLUMNS} FROM images WHERE {page_where} "
                f"ORDER BY {sort_key} {order} LIMIT ? OFFSET ?",
                (*page_params, max(limit, 0) + 1, max(offset, 0)),
            ).fetchall()
            if query.counted:
                total = _counted_total(db, tenant_id, query)
            else:
                count_sql = f"SELECT COUNT(*) FROM images WHERE {where}"
                total = db.execute(count_sql, params).fetchone()[0]
        limit = max(limit, 0)
        images = [_image(row) for row in rows[:limit]]
        more = len(rows) > limit and bool(images)
        return ImagePage(
            images=images,
            total=total,
            next_after=image_sort_key(images[-1], query.sort) if more else None,
        )

    def image_summary(self, tenant_id: str) -> ImageSummary:
        with self._connect() as db:
            return _summary(db, tenant_id)

    def record_image_view(self, tenant_id: str, image_id: str) -> Image | None:
        return self._add_to(tenant_id, image_id, "view_count")

    def record_image_download(self, tenant_id: str, image_id: str) -> Image | None:
        return self._add_to(tenant_id, image_id, "download_count")

    def _add_to(self, tenant_id: str, image_id: str, column: str) -> Image | None:
        with self._transaction() as db:
            cursor = db.execute(
                f"UPDATE images SET {column} = {column} + 1 "
                "WHERE image_id = ? AND tenant_id = ? AND status <> ?",
                (image_id, tenant_id, DELETED),
            )
            if cursor.rowcount != 1:
                return None
            return _live_image(db, tenant_id, image_id)

    def update_image(self, tenant_id: str, image_id: str, changes: ImageChanges) -> Image | None:
        with self._transaction() as db:
            before = _live_image(db, tenant_id, image_id)
            if before is None:
                return None
            after = changes.applied_to(before)
            if after == before:
                return before
            # Conditional on the state that was read: a change can only move the counters
            # from the state the image was really in, and never brings a tombstone back.
            cursor = db.execute(
                "UPDATE images SET user_tags_json = ?, categories_json = ?, description = ?, "
                "is_favorite = ?, is_public = ?, status = ?, saved_at = ?, expires_at = ?, "
                "search_text = ? WHERE image_id = ? AND tenant_id = ? AND status = ? "
                "AND is_favorite = ?",
                (
                    json.dumps(after.user_tags), json.dumps(after.categories), after.description,
                    int(after.is_favorite), int(after.is_public), after.status, after.saved_at,
                    after.expires_at, search_text(after), image_id, tenant_id, before.status,
                    int(before.is_favorite),
                ),
            )  # fmt: skip
            if cursor.rowcount != 1:
                return _live_image(db, tenant_id, image_id)
            if (after.status, after.is_favorite) != (before.status, before.is_favorite):
                _count(db, before, -1)
                _count(db, after, +1)
            return after

    def delete_image(self, tenant_id: str, image_id: str, deleted_at: str) -> Image | None:
        with self._transaction() as db:
            before = _live_image(db, tenant_id, image_id)
            if before is None:
                return None
            # The record stays as a tombstone until its expiry, so nothing can save or
            # favourite it back; the counters lose it once.
            cursor = db.execute(
                "UPDATE images SET status = ?, deleted_at = ? "
                "WHERE image_id = ? AND tenant_id = ? AND status = ?",
                (DELETED, deleted_at, image_id, tenant_id, before.status),
            )
            if cursor.rowcount != 1:
                return None
            _count(db, before, -1)
            return before

    def recount_images(self, tenant_id: str) -> ImageSummary:
        with self._transaction() as db:
            _recount(db, tenant_id)
            return _summary(db, tenant_id)

    def expire_images(self, now: str, limit: int) -> list[Image]:
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT {_IMAGE_COLUMNS} FROM images WHERE expires_at <= ? "
                "ORDER BY expires_at, image_id LIMIT ?",
                (now, limit),
            ).fetchall()
            expired = []
            for row in rows:
                image = _image(row)
                cursor = db.execute(
                    "DELETE FROM images WHERE image_id = ? AND status = ? AND expires_at = ?",
                    (image.image_id, image.status, image.expires_at),
                )
                if cursor.rowcount == 1:
                    _count(db, image, -1)  # a tombstone was counted out when deleted
                    expired.append(image)
        return expired


def _migrate(db: sqlite3.Connection) -> None:
    """Bring the images table of a version 1 database up to date, keeping its rows."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    has_images = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'images'"
    ).fetchone()
    if version >= 2 or not has_images:
        return
    # SQLite cannot drop NOT NULL in place: rebuild the table, in one transaction.
    old_columns = _V3_IMAGE_COLUMNS.removesuffix(", image_type")
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


def _add_job_columns(db: sqlite3.Connection) -> None:
    """Columns jobs gained in version 3 are added to an older jobs table, keeping its rows."""
    present = {row["name"] for row in db.execute("PRAGMA table_info(jobs)")}
    for column, declaration in JOB_COLUMNS_ADDED.items():
        if column not in present:
            db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {declaration}")


def _add_image_library(db: sqlite3.Connection) -> None:
    """Version 4: the library's image columns and the counters, added to an older database in
    place and in one transaction (its rows stay, with no expiry); then every tenant's
    counters are counted from its images."""
    db.execute("BEGIN IMMEDIATE")
    try:
        present = {row["name"] for row in db.execute("PRAGMA table_info(images)")}
        for column, declaration in IMAGE_COLUMNS_ADDED.items():
            if column not in present:
                db.execute(f"ALTER TABLE images ADD COLUMN {column} {declaration}")
        if "search_text" not in present:
            rows = db.execute(f"SELECT {_IMAGE_COLUMNS} FROM images").fetchall()
            db.executemany(
                "UPDATE images SET search_text = ? WHERE image_id = ?",
                [(search_text(image), image.image_id) for image in map(_image, rows)],
            )
        has_counters = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'image_counters'"
        ).fetchone()
        db.execute(IMAGE_COUNTERS_TABLE)
        if not has_counters:
            tenants = db.execute("SELECT DISTINCT tenant_id FROM images").fetchall()
            for (tenant_id,) in tenants:
                _recount(db, tenant_id)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _insert_image(db: sqlite3.Connection, image: Image) -> None:
    db.execute(_IMAGE_INSERT, (*_image_row(image), search_text(image)))
    _count(db, image, +1)


def _count(db: sqlite3.Connection, image: Image, sign: int) -> None:
    """Move the tenant's counters by one image of its status (in or out)."""
    if image.status not in LIBRARY_STATUSES:
        return
    db.execute(
        "INSERT INTO image_counters (tenant_id, status, count, bytes, favorites) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, status) DO UPDATE SET "
        "count = count + excluded.count, bytes = bytes + excluded.bytes, "
        "favorites = favorites + excluded.favorites",
        (
            image.tenant_id,
            image.status,
            sign,
            sign * image.size_bytes,
            sign * int(image.is_favorite),
        ),
    )


def _recount(db: sqlite3.Connection, tenant_id: str) -> None:
    db.execute("DELETE FROM image_counters WHERE tenant_id = ?", (tenant_id,))
    db.execute(
        "INSERT INTO image_counters (tenant_id, status, count, bytes, favorites) "
        "SELECT tenant_id, status, COUNT(*), SUM(size_bytes), SUM(is_favorite) FROM images "
        f"WHERE tenant_id = ? AND status IN ({', '.join('?' * len(LIBRARY_STATUSES))}) "
        "GROUP BY tenant_id, status",
        (tenant_id, *LIBRARY_STATUSES),
    )


def _counters(db: sqlite3.Connection, tenant_id: str) -> dict[str, sqlite3.Row]:
    rows = db.execute(
        "SELECT status, count, bytes, favorites FROM image_counters WHERE tenant_id = ?",
        (tenant_id,),
    ).fetchall()
    return {row["status"]: row for row in rows}


def _summary(db: sqlite3.Connection, tenant_id: str) -> ImageSummary:
    counters = _counters(db, tenant_id)

    def total(status: str, column: str) -> int:
        row = counters.get(status)
        return int(row[column]) if row is not None else 0

    return ImageSummary(
        total_images=total(TEMPORARY, "count") + total(SAVED, "count"),
        saved_images=total(SAVED, "count"),
        temporary_images=total(TEMPORARY, "count"),
        total_size_bytes=total(TEMPORARY, "bytes") + total(SAVED, "bytes"),
        favorite_count=total(TEMPORARY, "favorites") + total(SAVED, "favorites"),
    )


def _counted_total(db: sqlite3.Connection, tenant_id: str, query: ImageQuery) -> int:
    """The total of a listing filtered by status and is_favorite only, from the counters."""
    counters = _counters(db, tenant_id)
    total = 0
    for status in set(query.statuses) & set(LIBRARY_STATUSES):
        row = counters.get(status)
        if row is None:
            continue
        if query.is_favorite is None:
            total += row["count"]
        elif query.is_favorite:
            total += row["favorites"]
        else:
            total += row["count"] - row["favorites"]
    return int(total)


def _image_filters(tenant_id: str, query: ImageQuery) -> tuple[str, list[Any]]:
    """The WHERE clause of a listing (without its page position)."""
    statuses = [s for s in dict.fromkeys(query.statuses) if s in LIBRARY_STATUSES]
    conditions = ["tenant_id = ?"]
    params: list[Any] = [tenant_id]
    if statuses:
        conditions.append(f"status IN ({', '.join('?' * len(statuses))})")
        params.extend(statuses)
    else:
        conditions.append("0")
    if query.chat_id is not None:
        conditions.append("chat_id = ?")
        params.append(query.chat_id)
    for column, values in (("user_tags_json", query.tags), ("categories_json", query.categories)):
        if values:
            conditions.append(
                f"EXISTS (SELECT 1 FROM json_each(images.{column}) "
                f"WHERE json_each.value IN ({', '.join('?' * len(values))}))"
            )
            params.extend(values)
    if query.is_favorite is not None:
        conditions.append("is_favorite = ?")
        params.append(int(query.is_favorite))
    if query.image_type is not None:
        conditions.append("image_type = ?")
        params.append(query.image_type)
    if query.search:
        conditions.append("instr(search_text, ?) > 0")
        params.append(query.search.casefold())
    if query.created_from is not None:
        conditions.append("created_at >= ?")
        params.append(query.created_from)
    if query.created_to is not None:
        conditions.append("created_at <= ?")
        params.append(query.created_to)
    return " AND ".join(conditions), params


def _live_image(db: sqlite3.Connection, tenant_id: str, image_id: str) -> Image | None:
    row = db.execute(
        f"SELECT {_IMAGE_COLUMNS} FROM images WHERE image_id = ? AND tenant_id = ? AND status <> ?",
        (image_id, tenant_id, DELETED),
    ).fetchone()
    return _image(row) if row is not None else None


def _bind_idempotency_key(db: sqlite3.Connection, binding: IdempotencyKey) -> None:
    """Inside the transaction that creates the resource, so two racing requests cannot both
    bind the key: the second finds the first's row (the write lock orders them)."""
    existing = db.execute(
        "SELECT * FROM idempotency_keys WHERE tenant_id = ? AND key = ?",
        (binding.tenant_id, binding.key),
    ).fetchone()
    if existing is not None and existing["expires_at"] > binding.created_at:
        raise IdempotencyKeyTaken(IdempotencyKey(**dict(existing)))
    db.execute(
        "INSERT OR REPLACE INTO idempotency_keys VALUES (?, ?, ?, ?, ?, ?)",
        (
            binding.tenant_id, binding.key, binding.request_hash, binding.resource_id,
            binding.created_at, binding.expires_at,
        ),
    )  # fmt: skip


def _insert_job(db: sqlite3.Connection, job: Job) -> None:
    values = []
    for name in _JOB_FIELDS:
        value = getattr(job, name)
        if name in _JSON_FIELDS:
            value = _dumps(value)
        elif isinstance(value, bool):
            value = int(value)
        values.append(value)
    db.execute(
        f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES ({', '.join('?' * len(_JOB_FIELDS))})",
        values,
    )


def _insert_webhook(db: sqlite3.Connection, webhook: Webhook) -> None:
    db.execute(
        f"INSERT INTO webhooks ({_WEBHOOK_COLUMNS}) VALUES ({', '.join('?' * 11)})",
        (
            webhook.webhook_id, webhook.tenant_id, webhook.subject_id, webhook.event, webhook.url,
            webhook.created_at, webhook.status, webhook.attempts,
            webhook.next_attempt_at or webhook.created_at, webhook.body, webhook.delivered_at,
        ),
    )  # fmt: skip


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _job(row: sqlite3.Row) -> Job:
    values: dict[str, Any] = {}
    for name in _JOB_FIELDS:
        if name in _JSON_FIELDS:
            raw = row[f"{name}_json"]
            values[name] = None if raw is None else json.loads(raw)
        else:
            values[name] = row[name]
    values["webhook_delivered"] = bool(values["webhook_delivered"])
    return Job(**values)


def _image_row(image: Image) -> tuple[Any, ...]:
    return (
        image.image_id, image.tenant_id, image.user_id, image.job_id, image.model_id,
        image.original_prompt, image.revised_prompt, image.negative_prompt, image.width,
        image.height, image.format, image.size_bytes, image.quality, image.style, image.seed,
        image.blob_key, image.thumbnail_key, image.created_at, image.status, image.chat_id,
        json.dumps(image.user_tags), image.description, image.image_type,
        json.dumps(image.categories), int(image.is_favorite), int(image.is_public),
        image.saved_at, image.expires_at, image.view_count, image.download_count,
    )  # fmt: skip


def _image(row: sqlite3.Row) -> Image:
    values = dict(row)
    values["user_tags"] = json.loads(values.pop("user_tags_json"))
    values["categories"] = json.loads(values.pop("categories_json"))
    values["is_favorite"] = bool(values["is_favorite"])
    values["is_public"] = bool(values["is_public"])
    return Image(**values)

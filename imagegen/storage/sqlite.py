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
    WEBHOOK_DELIVERED,
    WEBHOOK_PENDING,
    ApiKey,
    Batch,
    IdempotencyKey,
    Image,
    Job,
    Webhook,
    WebhookAttempt,
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
"""

_JOB_FIELDS = (
    "job_id", "tenant_id", "user_id", "request_id", "kind", "request", "plan", "status",
    "status_message", "progress", "error", "image_ids", "cost", "created_at", "started_at",
    "completed_at", "priority", "retry_count", "webhook_url", "webhook_delivered", "batch_id",
    "queued_at", "run_id", "lease_expires_at", "recoveries",
)  # fmt: skip
# Fields kept as JSON text, in columns named <field>_json.
_JSON_FIELDS = frozenset({"request", "plan", "error", "image_ids", "cost"})
_JOB_COLUMNS = ", ".join(f"{f}_json" if f in _JSON_FIELDS else f for f in _JOB_FIELDS)
_IMAGE_COLUMNS = (
    "image_id, tenant_id, user_id, job_id, model_id, original_prompt, revised_prompt, "
    "negative_prompt, width, height, format, size_bytes, quality, style, seed, blob_key, "
    "thumbnail_key, created_at, status, chat_id, user_tags_json, description, image_type"
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
# (before uploads); 2 = jobs without batches, leases and recoveries; 3 = this schema.
SCHEMA_VERSION = 3


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
    ) -> list[Job]:
        conditions, params = ["1 = 1"], []
        for column, value in (("tenant_id", tenant_id), ("status", status)):
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

    def mark_queued(self, job_id: str, queued_at: str) -> bool:
        return self._update(
            "UPDATE jobs SET queued_at = ? WHERE job_id = ? AND status = ?",
            (queued_at, job_id, PENDING),
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
            db.executemany(
                f"INSERT INTO images ({_IMAGE_COLUMNS}) VALUES ({', '.join('?' * 23)})",
                [_image_row(image) for image in images],
            )
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
    """Bring the images table of a version 1 database up to date, keeping its rows."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    has_images = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'images'"
    ).fetchone()
    if version >= 2 or not has_images:
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


def _add_job_columns(db: sqlite3.Connection) -> None:
    """Columns jobs gained in version 3 are added to an older jobs table, keeping its rows."""
    present = {row["name"] for row in db.execute("PRAGMA table_info(jobs)")}
    for column, declaration in JOB_COLUMNS_ADDED.items():
        if column not in present:
            db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {declaration}")


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
    )  # fmt: skip


def _image(row: sqlite3.Row) -> Image:
    values = dict(row)
    values["user_tags"] = json.loads(values.pop("user_tags_json"))
    return Image(**values)

"""SqliteRepository: the Repository interface (imagegen/storage/repository.py) on SQLite.

Each thread keeps a connection of its own (the API's threads, and the worker's forked
processes' threads, never sharing one), writers take turns, and WAL mode lets readers and
the single writer proceed together (imagegen.storage.sqlite.connection). A state change
is an UPDATE whose WHERE names the state it moves from, and a change of several records is
one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
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
    WEBHOOK_DELIVERED,
    WEBHOOK_PENDING,
    ApiKey,
    Batch,
    CreditAccount,
    IdempotencyKey,
    Image,
    ImageChanges,
    ImagePage,
    ImageQuery,
    ImageSummary,
    Job,
    LedgerEntry,
    TenantLimits,
    Webhook,
    WebhookAttempt,
    credit_units,
    grant_entry,
    image_sort_key,
    search_text,
)
from imagegen.storage.repository import IdempotencyKeyTaken
from imagegen.storage.sqlite import credits
from imagegen.storage.sqlite.codec import (
    BATCH_COLUMNS,
    IMAGE_COLUMNS,
    JOB_COLUMNS,
    TENANT_LIMITS_COLUMNS,
    WEBHOOK_COLUMNS,
    batch_from_row,
    batch_row,
    image_from_row,
    image_row,
    job_from_row,
    job_row,
    tenant_limits_from_row,
    tenant_limits_row,
    webhook_row,
)
from imagegen.storage.sqlite.connection import Connections
from imagegen.storage.sqlite.counters import count_image, counted_total, recount, summary
from imagegen.storage.sqlite.migrations import migrate
from imagegen.storage.sqlite.schema import SORT_KEYS

_IMAGE_INSERT = (
    f"INSERT INTO images ({IMAGE_COLUMNS}, search_text) "
    f"VALUES ({', '.join('?' * (IMAGE_COLUMNS.count(',') + 2))})"
)

# A tenant's whole record, replacing any earlier one.
_TENANT_LIMITS_PUT = (
    f"INSERT OR REPLACE INTO tenant_limits ({TENANT_LIMITS_COLUMNS}) "
    f"VALUES ({', '.join('?' * (TENANT_LIMITS_COLUMNS.count(',') + 1))})"
)


class SqliteRepository:
    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Kept per thread, and writers taking turns (imagegen.storage.sqlite.connection).
        self._connections = Connections(path)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            migrate(db)

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._connections.connection()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the write lock at once so reads inside it are current."""
        with self._connect() as db, self._connections.write():
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
        with self._connect() as db, self._connections.write():
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

    # --- tenants' limits ----------------------------------------------------------------

    def get_tenant_limits(self, tenant_id: str) -> TenantLimits | None:
        with self._connect() as db:
            row = db.execute(
                f"SELECT {TENANT_LIMITS_COLUMNS} FROM tenant_limits WHERE tenant_id = ?",
                (tenant_id,),
            ).fetchone()
        return tenant_limits_from_row(row) if row else None

    def put_tenant_limits(self, limits: TenantLimits) -> None:
        with self._connect() as db:
            db.execute(_TENANT_LIMITS_PUT, tenant_limits_row(limits))

    # --- tenants' credits ---------------------------------------------------------------

    def credit_account(self, tenant_id: str) -> CreditAccount | None:
        with self._connect() as db:
            return credits.account(db, tenant_id)

    def open_credit_account(self, tenant_id: str, balance: int, at: str) -> CreditAccount:
        with self._transaction() as db:
            existing = credits.account(db, tenant_id)
            if existing is not None:
                return existing
            credits.open_account(db, tenant_id, at)
            return self._grant(db, tenant_id, balance, at, "opening balance")

    def grant_credits(self, tenant_id: str, amount: int, at: str, note: str) -> CreditAccount:
        with self._transaction() as db:
            credits.open_account(db, tenant_id, at)
            return self._grant(db, tenant_id, amount, at, note)

    def _grant(
        self, db: sqlite3.Connection, tenant_id: str, amount: int, at: str, note: str
    ) -> CreditAccount:
        held = credits.account(db, tenant_id)
        assert held is not None
        if held.balance + amount < 0:
            raise ValueError(f"the balance is {held.balance}: it cannot go below 0")
        credits.move(db, tenant_id, amount, 0, at)
        credits.append(db, grant_entry(tenant_id, amount, at, note))
        account = credits.account(db, tenant_id)
        assert account is not None
        return account

    def ledger_entries(
        self, tenant_id: str, limit: int, job_id: str | None = None
    ) -> list[LedgerEntry]:
        with self._connect() as db:
            return credits.entries(db, tenant_id, limit, job_id)

    # --- jobs ---------------------------------------------------------------------------

    def add_job(self, job: Job, idempotency: IdempotencyKey | None = None) -> None:
        with self._transaction() as db:
            if idempotency is not None:
                _bind_idempotency_key(db, idempotency)
            if job.reserved_credits is not None:
                credits.reserve(
                    db, job.tenant_id, job.reserved_credits, job.created_at, job_id=job.job_id
                )
            _insert_job(db, job)

    def get_job(self, tenant_id: str, job_id: str) -> Job | None:
        return self._one_job("job_id = ? AND tenant_id = ?", (job_id, tenant_id))

    def load_job(self, job_id: str) -> Job | None:
        return self._one_job("job_id = ?", (job_id,))

    def _one_job(self, where: str, params: tuple[Any, ...]) -> Job | None:
        with self._connect() as db:
            row = db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE {where}", params).fetchone()
        return job_from_row(row) if row else None

    def _jobs(self, where: str, params: tuple[Any, ...], order: str, limit: int) -> list[Job]:
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY {order} LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [job_from_row(row) for row in rows]

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
        with self._transaction() as db:
            job = _job_in(db, job_id)
            cursor = db.execute(
                "UPDATE jobs SET status = ?, status_message = ?, completed_at = ?, "
                "lease_expires_at = NULL WHERE job_id = ? AND tenant_id = ? AND status IN (?, ?)",
                (CANCELLED, "cancelled", cancelled_at, job_id, tenant_id, PENDING, PROCESSING),
            )
            if cursor.rowcount != 1 or job is None:
                return False
            credits.settle(db, job, 0, cancelled_at)
        return True

    def retry_job(self, tenant_id: str, job_id: str, queued_at: str) -> bool:
        with self._transaction() as db:
            job = _job_in(db, job_id)
            cursor = db.execute(
                "UPDATE jobs SET status = ?, status_message = ?, retry_count = retry_count + 1, "
                "progress = 0, error_json = NULL, started_at = NULL, completed_at = NULL, "
                "run_id = NULL, recoveries = 0, queued_at = ? "
                "WHERE job_id = ? AND tenant_id = ? AND status = ?",
                (PENDING, "queued for retry", queued_at, job_id, tenant_id, FAILED),
            )
            if cursor.rowcount != 1 or job is None:
                return False
            if job.reserved_credits is not None:
                credits.reserve(
                    db,
                    tenant_id,
                    job.reserved_credits,
                    queued_at,
                    job_id=job_id,
                    attempt=job.retry_count + 1,
                )
        return True

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
            job = _job_in(db, job_id)
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
            if cursor.rowcount != 1 or job is None:  # cancelled or taken back meanwhile
                return False
            credits.settle(db, job, credit_units(cost.get("credits_used", 0)), completed_at)
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
            job = _job_in(db, job_id)
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
            if cursor.rowcount != 1 or job is None:
                return False
            credits.settle(db, job, 0, completed_at)
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
            held = [job.reserved_credits for job in jobs if job.reserved_credits is not None]
            if held:
                credits.reserve(
                    db, batch.tenant_id, sum(held), batch.created_at, batch_id=batch.batch_id
                )
            db.execute(
                f"INSERT INTO batches ({BATCH_COLUMNS}) VALUES ({', '.join('?' * 10)})",
                batch_row(batch),
            )
            for job in jobs:
                _insert_job(db, job)

    def get_batch(self, tenant_id: str, batch_id: str) -> Batch | None:
        with self._connect() as db:
            row = db.execute(
                f"SELECT {BATCH_COLUMNS} FROM batches WHERE batch_id = ? AND tenant_id = ?",
                (batch_id, tenant_id),
            ).fetchone()
        return batch_from_row(row) if row is not None else None

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
                f"SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE status = ? AND next_attempt_at <= ? "
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
                f"SELECT {IMAGE_COLUMNS} FROM images WHERE tenant_id = ? AND status <> ? "
                f"AND image_id IN ({', '.join('?' * len(image_ids))})",
                (tenant_id, DELETED, *image_ids),
            ).fetchall()
        by_id = {row["image_id"]: image_from_row(row) for row in rows}
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
        sort_key = SORT_KEYS[query.sort]
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
                f"SELECT {IMAGE_COLUMNS} FROM images WHERE {page_where} "
                f"ORDER BY {sort_key} {order} LIMIT ? OFFSET ?",
                (*page_params, max(limit, 0) + 1, max(offset, 0)),
            ).fetchall()
            if query.counted:
                total = counted_total(db, tenant_id, query)
            else:
                count_sql = f"SELECT COUNT(*) FROM images WHERE {where}"
                total = db.execute(count_sql, params).fetchone()[0]
        limit = max(limit, 0)
        images = [image_from_row(row) for row in rows[:limit]]
        more = len(rows) > limit and bool(images)
        return ImagePage(
            images=images,
            total=total,
            next_after=image_sort_key(images[-1], query.sort) if more else None,
        )

    def image_summary(self, tenant_id: str) -> ImageSummary:
        with self._connect() as db:
            return summary(db, tenant_id)

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
                count_image(db, before, -1)
                count_image(db, after, +1)
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
            count_image(db, before, -1)
            return before

    def recount_images(self, tenant_id: str) -> ImageSummary:
        with self._transaction() as db:
            recount(db, tenant_id)
            return summary(db, tenant_id)

    def expire_images(self, now: str, limit: int) -> list[Image]:
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT {IMAGE_COLUMNS} FROM images WHERE expires_at <= ? "
                "ORDER BY expires_at, image_id LIMIT ?",
                (now, limit),
            ).fetchall()
            expired = []
            for row in rows:
                image = image_from_row(row)
                cursor = db.execute(
                    "DELETE FROM images WHERE image_id = ? AND status = ? AND expires_at = ?",
                    (image.image_id, image.status, image.expires_at),
                )
                if cursor.rowcount == 1:
                    count_image(db, image, -1)  # a tombstone was counted out when deleted
                    expired.append(image)
        return expired


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
        f"SELECT {IMAGE_COLUMNS} FROM images WHERE image_id = ? AND tenant_id = ? AND status <> ?",
        (image_id, tenant_id, DELETED),
    ).fetchone()
    return image_from_row(row) if row is not None else None


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


def _job_in(db: sqlite3.Connection, job_id: str) -> Job | None:
    """The job as the transaction sees it, before the transaction's own change."""
    row = db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    return job_from_row(row) if row else None


def _insert_job(db: sqlite3.Connection, job: Job) -> None:
    values = job_row(job)
    db.execute(f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES ({', '.join('?' * len(values))})", values)


def _insert_webhook(db: sqlite3.Connection, webhook: Webhook) -> None:
    db.execute(
        f"INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES ({', '.join('?' * 11)})",
        webhook_row(webhook),
    )


def _insert_image(db: sqlite3.Connection, image: Image) -> None:
    db.execute(_IMAGE_INSERT, (*image_row(image), search_text(image)))
    count_image(db, image, +1)

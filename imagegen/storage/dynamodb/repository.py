"""DynamoRepository: the Repository interface (imagegen/storage/repository.py) on one table.

Each method says which records it reads and writes and under which conditions; the items
themselves are codec.py's, their index keys keys.py's, the expressions expressions.py's,
and the calls table.py's and paging.py's. Where the SQLite repository relies on a WHERE
clause or a transaction, this one relies on a ConditionExpression or on TransactWriteItems,
so the same races have the same winners.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import boto3

from imagegen.records import (
    BATCH_COMPLETED_EVENT,
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
from imagegen.storage.dynamodb.attributes import serialize
from imagegen.storage.dynamodb.codec import (
    api_key_item,
    attempt_item,
    batch_item,
    idempotency_item,
    image_from_item,
    image_item,
    job_from_item,
    job_item,
    record_from_item,
    tenant_limits_item,
    tenant_limits_key,
    webhook_item,
)
from imagegen.storage.dynamodb.counters import (
    contribution,
    counted_total,
    counter_names,
    counter_writes,
    counters_item,
    counters_key,
    summary,
)
from imagegen.storage.dynamodb.credits import (
    RESERVATION_CHECK,
    account_change,
    account_from_item,
    account_key,
    entry_from_item,
    entry_put,
    ledger_partition,
    new_account_put,
    reservation_writes,
    settlement_writes,
)
from imagegen.storage.dynamodb.expressions import HELD, Filter, Update, held, idempotency_put, put
from imagegen.storage.dynamodb.keys import (
    AFTER_INSTANT,
    DUE_IDEMPOTENCY,
    DUE_IMAGES,
    DUE_LEASES,
    DUE_PENDING_JOBS,
    DUE_WEBHOOKS,
    expiry_keys,
    image_keys,
    job_state,
    library_partition,
    primary_key,
)
from imagegen.storage.dynamodb.paging import Bound, library_page, library_total, query_partition
from imagegen.storage.dynamodb.table import Table, TransactionCancelled
from imagegen.storage.repository import IdempotencyKeyTaken, InsufficientCredits

# Optimistic writes (a view, a PATCH, a delete) retry when a racing write changed the item.
_MAX_RETRIES = 20


@dataclass(frozen=True)
class _JobHold:
    job_id: str
    tenant_id: str
    reserved: int | None  # CREDIT_UNITS held while pending/processing; None: not metered
    attempt: int  # the job's retry_count
    batch_id: str | None


class DynamoRepository:
    def __init__(
        self, table_name: str, client: Any | None = None, region_name: str | None = None
    ) -> None:
        # No endpoint_url here: boto3 reads AWS_ENDPOINT_URL_DYNAMODB itself (moto, in tests).
        self._table = Table(client or boto3.client("dynamodb", region_name=region_name), table_name)

    # --- API keys -----------------------------------------------------------------------

    def add_api_key(self, key: ApiKey) -> None:
        self._table.put(put(self._table.name, api_key_item(key)))

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        item = self._table.get(f"key#{key_hash}", "key")
        return record_from_item(ApiKey, item) if item else None

    # --- tenants' limits ----------------------------------------------------------------

    def get_tenant_limits(self, tenant_id: str) -> TenantLimits | None:
        item = self._table.get(*tenant_limits_key(tenant_id))
        return record_from_item(TenantLimits, item) if item else None

    def put_tenant_limits(self, limits: TenantLimits) -> None:
        # A Put replaces the whole item, so a limit set back to None loses its attribute.
        self._table.put(put(self._table.name, tenant_limits_item(limits)))

    # --- tenants' credits ---------------------------------------------------------------

    def credit_account(self, tenant_id: str) -> CreditAccount | None:
        item = self._table.get(*account_key(tenant_id))
        return account_from_item(item) if item else None

    def open_credit_account(self, tenant_id: str, balance: int, at: str) -> CreditAccount:
        self._open_account(tenant_id, balance, at, "opening balance")
        account = self.credit_account(tenant_id)
        assert account is not None
        return account

    def _open_account(self, tenant_id: str, balance: int, at: str, note: str) -> bool:
        """Open the tenant's account with balance, and its grant entry; False (nothing
        written) when it has one."""
        opening = new_account_put(self._table.name, tenant_id, at, balance)
        entry = entry_put(self._table.name, grant_entry(tenant_id, balance, at, note))
        try:
            self._table.transact([opening, entry])
        except TransactionCancelled as cancelled:
            if cancelled.failed(0):
                return False
            raise
        return True

    def grant_credits(self, tenant_id: str, amount: int, at: str, note: str) -> CreditAccount:
        if amount < 0 and self.credit_account(tenant_id) is None:
            raise ValueError("the balance is 0: it cannot go below 0")
        if not self._open_account(tenant_id, amount, at, note):
            change = account_change(
                tenant_id, amount, 0, at, at_least=-amount if amount < 0 else None
            )
            entry = entry_put(self._table.name, grant_entry(tenant_id, amount, at, note))
            try:
                self._table.transact([change.transact(self._table.name), entry])
            except TransactionCancelled as cancelled:
                if cancelled.failed(0):
                    raise ValueError("the balance cannot go below 0") from None
                raise
        account = self.credit_account(tenant_id)
        assert account is not None
        return account

    def ledger_entries(
        self, tenant_id: str, limit: int, job_id: str | None = None
    ) -> list[LedgerEntry]:
        filter_ = Filter()
        if job_id is not None:
            filter_.equals("job_id", job_id)
        items = query_partition(
            self._table,
            None,
            ledger_partition(tenant_id),
            "sk",
            forward=False,
            filter_=filter_,
            page=limit,
        )
        return [entry_from_item(item) for item in itertools.islice(items, max(limit, 0))]

    # --- jobs ---------------------------------------------------------------------------

    def add_job(self, job: Job, idempotency: IdempotencyKey | None = None) -> None:
        writes = [put(self._table.name, job_item(job), new=True)]
        if job.reserved_credits is None:
            self._create(writes, idempotency)
            return
        writes += reservation_writes(
            self._table.name,
            job.tenant_id,
            job.reserved_credits,
            job.created_at,
            job_id=job.job_id,
        )
        self._create_paid(writes, 1, job.tenant_id, job.reserved_credits, idempotency)

    def _create_paid(
        self,
        writes: list[dict[str, Any]],
        reservation_at: int,
        tenant_id: str,
        price: int,
        idempotency: IdempotencyKey | None,
    ) -> None:
        """_create, for writes whose reservation_writes start at reservation_at: a short
        balance is InsufficientCredits."""
        try:
            self._create(writes, idempotency)
        except TransactionCancelled as cancelled:
            offset = 0 if idempotency is None else 1
            if cancelled.failed(offset + reservation_at + RESERVATION_CHECK):
                raise InsufficientCredits(self.credit_account(tenant_id), price) from None
            raise

    def get_job(self, tenant_id: str, job_id: str) -> Job | None:
        job = self.load_job(job_id)
        return job if job is not None and job.tenant_id == tenant_id else None

    def load_job(self, job_id: str) -> Job | None:
        item = self._table.get(f"job#{job_id}", "job")
        return job_from_item(item) if item else None

    def list_jobs(
        self,
        tenant_id: str | None,
        status: str | None,
        limit: int,
        after: tuple[str, str] | None = None,
        user_id: str | None = None,
    ) -> list[Job]:
        if tenant_id is not None and status is None:
            index, partition = "by_tenant", ("tenant_pk", f"{tenant_id}#jobs")
        elif tenant_id is not None:
            index, partition = (
                "by_tenant_status",
                ("tenant_status_pk", f"{tenant_id}#jobs#{status}"),
            )
        elif status is not None:
            index, partition = "by_status", ("status_pk", f"jobs#{status}")
        else:
            raise ValueError("listing jobs across tenants needs a status")
        upper = Bound(f"{after[0]}#{after[1]}", inclusive=False) if after else None
        filter_ = Filter()
        if user_id is not None:
            filter_.equals("user_id", user_id)
        items = query_partition(
            self._table,
            index,
            partition,
            "created_sk",
            upper=upper,
            forward=False,
            filter_=filter_,
            page=limit,
        )
        return [job_from_item(item) for item in itertools.islice(items, max(limit, 0))]

    def start_job(self, job_id: str, run_id: str, started_at: str, lease_expires_at: str) -> bool:
        tenant_id = self._job_tenant(job_id)
        if tenant_id is None:
            return False
        update = Update(
            primary_key(f"job#{job_id}", "job"),
            {
                "started_at": started_at,
                "status_message": "generating",
                "run_id": run_id,
                "lease_expires_at": lease_expires_at,
                "progress": 0,
                **job_state(tenant_id, job_id, PROCESSING, lease_expires_at=lease_expires_at),
            },
            condition="#status = :pending",
            values={":pending": PENDING},
        )
        return self._table.update(update)

    def renew_lease(self, job_id: str, run_id: str, lease_expires_at: str) -> bool:
        update = Update(
            primary_key(f"job#{job_id}", "job"),
            {"lease_expires_at": lease_expires_at, "due_sk": f"{lease_expires_at}#{job_id}"},
            condition=HELD,
            values=held(run_id),
        )
        return self._table.update(update)

    def update_progress(self, job_id: str, run_id: str, progress: int, message: str) -> bool:
        update = Update(
            primary_key(f"job#{job_id}", "job"),
            {"progress": progress, "status_message": message},
            condition=HELD,
            values=held(run_id),
        )
        return self._table.update(update)

    def cancel_job(self, tenant_id: str, job_id: str, cancelled_at: str) -> bool:
        for _ in range(_MAX_RETRIES):
            hold = self._job_hold(job_id)
            if hold is None:
                return False
            update = Update(
                primary_key(f"job#{job_id}", "job"),
                {
                    "status_message": "cancelled",
                    "completed_at": cancelled_at,
                    "lease_expires_at": None,
                    **job_state(tenant_id, job_id, CANCELLED),
                },
                condition="tenant_id = :tenant AND #status IN (:pending, :processing)",
                values={":tenant": tenant_id, ":pending": PENDING, ":processing": PROCESSING},
            )
            if hold.reserved is None:
                return self._table.update(update)
            if self._settling(update, hold, 0, cancelled_at, []):
                return True
            if not self._retried_meanwhile(job_id, hold):
                return False
        raise RuntimeError(f"job {job_id} kept changing while it was being cancelled")

    def retry_job(self, tenant_id: str, job_id: str, queued_at: str) -> bool:
        hold = self._job_hold(job_id)
        if hold is None:
            return False
        update = Update(
            primary_key(f"job#{job_id}", "job"),
            {
                "status_message": "queued for retry",
                "progress": 0,
                "error": None,
                "started_at": None,
                "completed_at": None,
                "run_id": None,
                "recoveries": 0,
                "queued_at": queued_at,
                **job_state(tenant_id, job_id, PENDING, queued_at=queued_at),
            },
            add={"retry_count": 1},
            condition="tenant_id = :tenant AND #status = :failed AND retry_count = :attempt",
            values={":tenant": tenant_id, ":failed": FAILED, ":attempt": hold.attempt},
        )
        if hold.reserved is None:
            return self._table.update(update)
        writes = [update.transact(self._table.name)]
        writes += reservation_writes(
            self._table.name,
            tenant_id,
            hold.reserved,
            queued_at,
            job_id=job_id,
            attempt=hold.attempt + 1,
        )
        try:
            return self._table.transact_if_first_holds(writes)
        except TransactionCancelled as cancelled:
            if cancelled.failed(1 + RESERVATION_CHECK):
                raise InsufficientCredits(self.credit_account(tenant_id), hold.reserved) from None
            raise

    def requeue_job(self, job_id: str, run_id: str, queued_at: str, message: str) -> bool:
        tenant_id = self._job_tenant(job_id)
        if tenant_id is None:
            return False
        update = Update(
            primary_key(f"job#{job_id}", "job"),
            {
                "status_message": message,
                "progress": 0,
                "started_at": None,
                "run_id": None,
                "lease_expires_at": None,
                "queued_at": queued_at,
                **job_state(tenant_id, job_id, PENDING, queued_at=queued_at),
            },
            add={"recoveries": 1},
            condition=HELD,
            values=held(run_id),
        )
        return self._table.update(update)

    def mark_queued(self, job_id: str, queued_at: str, message: str | None = None) -> bool:
        # A pending job is in the `pending-jobs` partition already; only its place moves.
        changes: dict[str, Any] = {"queued_at": queued_at, "due_sk": f"{queued_at}#{job_id}"}
        if message is not None:
            changes["status_message"] = message
        update = Update(
            primary_key(f"job#{job_id}", "job"),
            changes,
            condition="#status = :pending",
            values={":pending": PENDING},
        )
        return self._table.update(update)

    def jobs_with_expired_leases(self, now: str, limit: int) -> list[Job]:
        return self._due_jobs(DUE_LEASES, Bound(now, inclusive=False), limit)

    def pending_jobs(self, queued_before: str, limit: int) -> list[Job]:
        return self._due_jobs(DUE_PENDING_JOBS, Bound(queued_before, inclusive=False), limit)

    def _due_jobs(self, partition: str, upper: Bound, limit: int) -> list[Job]:
        items = query_partition(
            self._table, "due", ("due_pk", partition), "due_sk", upper=upper, page=limit
        )
        return [job_from_item(item) for item in itertools.islice(items, max(limit, 0))]

    def complete_job(
        self,
        job_id: str,
        run_id: str,
        images: list[Image],
        cost: dict[str, float],
        completed_at: str,
        webhook: Webhook | None = None,
    ) -> bool:
        hold = self._job_hold(job_id)
        if hold is None:
            return False
        tenant_id = hold.tenant_id
        job = Update(
            primary_key(f"job#{job_id}", "job"),
            {
                "progress": 100,
                "status_message": "completed",
                "image_ids": json.dumps([image.image_id for image in images]),
                "cost": json.dumps(cost),
                "completed_at": completed_at,
                "lease_expires_at": None,
                **job_state(tenant_id, job_id, COMPLETED),
            },
            condition=HELD,
            values=held(run_id),
        )
        writes = [job.transact(self._table.name)]
        writes += [put(self._table.name, image_item(image), new=True) for image in images]
        writes += counter_writes(self._table.name, images, [+1] * len(images))
        if webhook is not None:
            writes.append(put(self._table.name, webhook_item(webhook), new=True))
        # Nothing is recorded when the job was cancelled or taken back meanwhile.
        charged = credit_units(cost.get("credits_used", 0))
        return self._settling(job, hold, charged, completed_at, writes[1:])

    def fail_job(
        self,
        job_id: str,
        error: dict[str, Any],
        completed_at: str,
        run_id: str | None = None,
        webhook: Webhook | None = None,
    ) -> bool:
        hold = self._job_hold(job_id)
        if hold is None:
            return False
        tenant_id = hold.tenant_id
        if run_id is None:
            condition, values = "#status = :pending", {":pending": PENDING}
        else:
            condition, values = HELD, held(run_id)
        update = Update(
            primary_key(f"job#{job_id}", "job"),
            {
                "status_message": error["message"],
                "error": json.dumps(error),
                "completed_at": completed_at,
                "lease_expires_at": None,
                **job_state(tenant_id, job_id, FAILED),
            },
            condition=condition,
            values=values,
        )
        if webhook is None and hold.reserved is None:
            return self._table.update(update)
        others = [] if webhook is None else [put(self._table.name, webhook_item(webhook), new=True)]
        return self._settling(update, hold, 0, completed_at, others)

    def _settling(
        self,
        move: Update,
        hold: _JobHold,
        charged: int,
        at: str,
        others: list[dict[str, Any]],
    ) -> bool:
        """The job's move out of pending/processing with the other writes and, for a
        metered job, its hold's settlement, in one transaction; False (nothing written)
        when the move's condition fails. The move also requires the attempt the hold was
        read for, so a retry in between cannot be settled as the attempt before it."""
        if hold.reserved is not None:
            move = replace(
                move,
                condition=f"({move.condition}) AND retry_count = :attempt",
                values={**move.values, ":attempt": hold.attempt},
            )
        writes = [move.transact(self._table.name), *others]
        if hold.reserved is not None:
            writes += settlement_writes(
                self._table.name,
                hold.tenant_id,
                hold.job_id,
                hold.attempt,
                hold.batch_id,
                hold.reserved,
                charged,
                at,
            )
        return self._table.transact_if_first_holds(writes)

    def _retried_meanwhile(self, job_id: str, before: _JobHold) -> bool:
        after = self._job_hold(job_id)
        return after is not None and after.attempt != before.attempt

    def _job_hold(self, job_id: str) -> _JobHold | None:
        """What a job's state change needs to know of it beyond its state: its tenant (which
        never changes: a state change rewrites index keys that name it, and an update
        expression cannot build them from the item's own attributes) and its credit hold."""
        item = self._table.get(
            f"job#{job_id}",
            "job",
            projection=("tenant_id", "reserved_credits", "retry_count", "batch_id"),
        )
        if not item:
            return None
        reserved = item.get("reserved_credits")
        return _JobHold(
            job_id=job_id,
            tenant_id=item["tenant_id"],
            reserved=None if reserved is None else int(reserved),
            attempt=int(item.get("retry_count", 0)),
            batch_id=item.get("batch_id"),
        )

    def _job_tenant(self, job_id: str) -> str | None:
        """The job's tenant, which never changes: a state change rewrites index keys that
        name it, and an update expression cannot build them from the item's own attributes."""
        item = self._table.get(f"job#{job_id}", "job", projection=("tenant_id",))
        return item["tenant_id"] if item else None

    # --- batches ------------------------------------------------------------------------

    def add_batch(
        self, batch: Batch, jobs: list[Job], idempotency: IdempotencyKey | None = None
    ) -> None:
        writes = [put(self._table.name, batch_item(batch), new=True)]
        writes += [put(self._table.name, job_item(job), new=True) for job in jobs]
        held = sum(job.reserved_credits or 0 for job in jobs)
        if not any(job.reserved_credits is not None for job in jobs):
            self._create(writes, idempotency)
            return
        reservation_at = len(writes)
        writes += reservation_writes(
            self._table.name, batch.tenant_id, held, batch.created_at, batch_id=batch.batch_id
        )
        self._create_paid(writes, reservation_at, batch.tenant_id, held, idempotency)

    def get_batch(self, tenant_id: str, batch_id: str) -> Batch | None:
        item = self._table.get(f"batch#{batch_id}", "batch")
        if not item or item["tenant_id"] != tenant_id:
            return None
        return record_from_item(Batch, item)

    def batch_job_states(self, batch_id: str) -> dict[str, str]:
        batch = self._table.get(f"batch#{batch_id}", "batch", projection=("job_ids",))
        return self._job_states(batch.get("job_ids", []) if batch else [])

    def _job_states(self, job_ids: list[str]) -> dict[str, str]:
        """job id -> status, for those of the jobs that exist (one BatchGetItem)."""
        keys = [(f"job#{job_id}", "job") for job_id in job_ids]
        jobs = self._table.get_many(keys, projection=("job_id", "status"))
        return {job["job_id"]: job["status"] for job in jobs}

    def finish_batch_if_done(
        self, batch_id: str, completed_at: str, webhook: Webhook | None = None
    ) -> bool:
        batch = self._table.get(f"batch#{batch_id}", "batch", projection=("job_ids", "status"))
        if not batch or batch["status"] != PENDING:
            return False  # finished already (or no such batch): not this caller's move
        jobs = self._job_states(batch.get("job_ids", []))
        if any(status in (PENDING, PROCESSING) for status in jobs.values()):
            return False
        finish = Update(
            primary_key(f"batch#{batch_id}", "batch"),
            {"status": COMPLETED, "completed_at": completed_at},
            condition="#status = :pending",
            values={":pending": PENDING},
        )
        writes = [finish.transact(self._table.name)]
        # A job that was read finished could be retried before the batch moves: the check
        # makes "every job finished" part of the same write (a transaction holds 100 items:
        # the batch, at most 98 jobs and the webhook).
        for job_id in jobs:
            writes.append(
                {
                    "ConditionCheck": {
                        "TableName": self._table.name,
                        "Key": primary_key(f"job#{job_id}", "job"),
                        "ConditionExpression": "NOT (#status IN (:pending, :processing))",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": serialize(
                            {":pending": PENDING, ":processing": PROCESSING}
                        ),
                    }
                }
            )
        if webhook is not None:
            writes.append(put(self._table.name, webhook_item(webhook), new=True))
        try:
            self._table.transact(writes)
        except TransactionCancelled as cancelled:
            if cancelled.any_failed():  # finished by another caller, or a job is running again
                return False
            raise
        return True

    # --- idempotency keys ---------------------------------------------------------------

    def find_idempotency_key(self, tenant_id: str, key: str, now: str) -> IdempotencyKey | None:
        item = self._table.get(f"idem#{tenant_id}#{key}", "idem")
        if not item or item["expires_at"] <= now:
            return None
        return record_from_item(IdempotencyKey, item)

    def delete_idempotency_key(self, tenant_id: str, key: str) -> None:
        self._table.delete(f"idem#{tenant_id}#{key}", "idem")

    def delete_expired_idempotency_keys(self, now: str) -> int:
        upper = Bound(now + AFTER_INSTANT, inclusive=False)  # expires_at <= now
        deleted = 0
        for item in query_partition(
            self._table, "due", ("due_pk", DUE_IDEMPOTENCY), "due_sk", upper=upper
        ):
            # Conditional: the key may have been bound again since the index was read.
            deleted += self._table.delete_if(
                (item["pk"], item["sk"]), "expires_at <= :now", {":now": now}
            )
        return deleted

    def _create(self, writes: list[dict[str, Any]], idempotency: IdempotencyKey | None) -> None:
        """Put new items, with the idempotency key bound in the same transaction (first)."""
        if idempotency is None and len(writes) == 1:
            self._table.put(writes[0])
            return
        if idempotency is not None:
            binding = idempotency_put(
                self._table.name, idempotency_item(idempotency), now=idempotency.created_at
            )
            writes = [binding, *writes]
        try:
            self._table.transact(writes)
        except TransactionCancelled as cancelled:
            if idempotency is not None and cancelled.failed(0):
                existing = cancelled.item(0) or self._table.get(
                    f"idem#{idempotency.tenant_id}#{idempotency.key}", "idem"
                )
                raise IdempotencyKeyTaken(
                    record_from_item(IdempotencyKey, existing or {})
                ) from None
            raise

    # --- webhooks -----------------------------------------------------------------------

    def claim_due_webhooks(self, now: str, claim_until: str, limit: int) -> list[Webhook]:
        upper = Bound(now + AFTER_INSTANT, inclusive=False)  # next_attempt_at <= now
        claimed: list[Webhook] = []
        due = query_partition(
            self._table, "due", ("due_pk", DUE_WEBHOOKS), "due_sk", upper=upper, page=limit
        )
        for item in due:
            if len(claimed) >= limit:
                break
            # The claim is conditional on the row as the index showed it: of two senders
            # that read the same row, one moves it and the other's condition fails.
            update = Update(
                primary_key(item["pk"], item["sk"]),
                {"next_attempt_at": claim_until, "due_sk": f"{claim_until}#{item['webhook_id']}"},
                condition="#status = :pending AND next_attempt_at = :seen",
                values={":pending": WEBHOOK_PENDING, ":seen": item["next_attempt_at"]},
            )
            old = self._table.update_returning(update, "ALL_OLD")
            if old is not None:
                claimed.append(record_from_item(Webhook, old))  # as read, like SQLite's SELECT
        return claimed

    def record_webhook_attempt(
        self,
        attempt: WebhookAttempt,
        body: str | None,
        status: str,
        next_attempt_at: str | None,
    ) -> None:
        delivered = status == WEBHOOK_DELIVERED
        waiting = status == WEBHOOK_PENDING and next_attempt_at is not None
        webhook = Update(
            primary_key(f"webhook#{attempt.webhook_id}", "webhook"),
            {
                "status": status,
                "attempts": attempt.attempt,
                "next_attempt_at": next_attempt_at,
                "body": body,
                "delivered_at": attempt.attempted_at if delivered else None,
                "due_pk": DUE_WEBHOOKS if waiting else None,
                "due_sk": f"{next_attempt_at}#{attempt.webhook_id}" if waiting else None,
            },
            condition="attribute_exists(pk)",
        )
        writes = [put(self._table.name, attempt_item(attempt)), webhook.transact(self._table.name)]
        if delivered:
            subject = "batch" if attempt.event == BATCH_COMPLETED_EVENT else "job"
            mark = Update(
                primary_key(f"{subject}#{attempt.subject_id}", subject),
                {"webhook_delivered": True},
                condition="attribute_exists(pk)",
            )
            writes.append(mark.transact(self._table.name))
        # An update of a missing item would create it: the conditions keep a webhook or a
        # subject that is not there from being invented. SQLite's UPDATE of a missing row
        # changes nothing and the attempt is still logged, so a missing one is left out (the
        # attempt's Put has no condition, so this ends).
        while True:
            try:
                self._table.transact(writes)
                return
            except TransactionCancelled as cancelled:
                if not cancelled.any_failed():
                    raise
                writes = [write for i, write in enumerate(writes) if not cancelled.failed(i)]

    def webhook_attempts(self, tenant_id: str, subject_id: str) -> list[WebhookAttempt]:
        filter_ = Filter()
        filter_.equals("tenant_id", tenant_id)
        items = query_partition(
            self._table, None, ("pk", f"attempts#{subject_id}"), "sk", filter_=filter_
        )
        return [record_from_item(WebhookAttempt, item) for item in items]

    # --- images -------------------------------------------------------------------------

    def add_image(self, image: Image) -> None:
        self._table.transact(
            [
                put(self._table.name, image_item(image), new=True),
                *counter_writes(self._table.name, [image], [+1]),
            ]
        )

    def get_images(self, tenant_id: str, image_ids: list[str]) -> list[Image]:
        keys = [(f"image#{image_id}", "image") for image_id in dict.fromkeys(image_ids)]
        found = {}
        for item in self._table.get_many(keys):
            image = image_from_item(item)
            if image.tenant_id == tenant_id and image.status != DELETED:
                found[image.image_id] = image
        return [found[image_id] for image_id in image_ids if image_id in found]

    # --- the image library --------------------------------------------------------------

    def get_image(self, tenant_id: str, image_id: str) -> Image | None:
        image = self._read_image(image_id)
        return image if _live(image, tenant_id) else None

    def list_images(
        self,
        tenant_id: str,
        query: ImageQuery,
        limit: int,
        offset: int = 0,
        after: str | None = None,
    ) -> ImagePage:
        statuses = [s for s in dict.fromkeys(query.statuses) if s in LIBRARY_STATUSES]
        limit = max(limit, 0)
        skip = 0 if after is not None else max(offset, 0)
        images, more = library_page(self._table, tenant_id, query, statuses, limit, skip, after)
        if query.counted:
            total = counted_total(self._counters(tenant_id), statuses, query.is_favorite)
        else:
            total = library_total(self._table, tenant_id, query, statuses)
        return ImagePage(
            images=images,
            total=total,
            next_after=image_sort_key(images[-1], query.sort) if more else None,
        )

    def image_summary(self, tenant_id: str) -> ImageSummary:
        return summary(self._counters(tenant_id))

    def record_image_view(self, tenant_id: str, image_id: str) -> Image | None:
        # view_count is in a sort key (views_sk), which an ADD cannot rewrite: read, then
        # write the next count conditional on the one read, again on a race.
        def view(image: Image) -> Image:
            views = image.view_count + 1
            update = Update(
                primary_key(f"image#{image_id}", "image"),
                {
                    "view_count": views,
                    "views_sk": image_sort_key(replace(image, view_count=views), "view_count"),
                },
                condition="#status = :status AND view_count = :seen",
                values={":status": image.status, ":seen": image.view_count},
            )
            item = self._table.update_returning(update, "ALL_NEW")
            if item is None:
                raise _Conflict
            return image_from_item(item)

        return self._optimistic(tenant_id, image_id, view)

    def record_image_download(self, tenant_id: str, image_id: str) -> Image | None:
        update = Update(
            primary_key(f"image#{image_id}", "image"),
            {},
            add={"download_count": 1},
            condition="tenant_id = :tenant AND #status <> :deleted",
            values={":tenant": tenant_id, ":deleted": DELETED},
        )
        item = self._table.update_returning(update, "ALL_NEW")
        return image_from_item(item) if item is not None else None

    def update_image(self, tenant_id: str, image_id: str, changes: ImageChanges) -> Image | None:
        def change(before: Image) -> Image:
            after = changes.applied_to(before)
            if after == before:
                return before
            fields = {
                "user_tags": after.user_tags,
                "categories": after.categories,
                "description": after.description,
                "is_favorite": after.is_favorite,
                "is_public": after.is_public,
                "status": after.status,
                "saved_at": after.saved_at,
                "search_text": search_text(after),
                **image_keys(after),
                **expiry_keys(after),
            }
            # Conditional on the state the counters move from: a racing change (or a delete)
            # makes the write fail, and it is tried again from the image as it is then.
            self._write_image(before, after, fields)
            return after

        return self._optimistic(tenant_id, image_id, change)

    def delete_image(self, tenant_id: str, image_id: str, deleted_at: str) -> Image | None:
        def delete(before: Image) -> Image:
            # The record stays as a tombstone with its expiry (and `ttl`), in no library
            # index, so nothing can save or favourite it back; the counters lose it once.
            tombstone = replace(before, status=DELETED)
            fields = {"status": DELETED, "deleted_at": deleted_at, **image_keys(tombstone)}
            self._write_image(before, tombstone, fields)
            return before

        return self._optimistic(tenant_id, image_id, delete)

    def recount_images(self, tenant_id: str) -> ImageSummary:
        counters: dict[str, int] = {}
        for status in LIBRARY_STATUSES:
            items = query_partition(
                self._table,
                "by_tenant_status",
                library_partition(tenant_id, status),
                "created_sk",
                projection=("size_bytes", "is_favorite"),
            )
            for item in items:
                for name, value in contribution(
                    status, item["size_bytes"], item["is_favorite"]
                ).items():
                    counters[name] = counters.get(name, 0) + value
        values = {name: counters.get(name, 0) for name in counter_names()}
        self._table.put(put(self._table.name, counters_item(tenant_id, values)))
        return summary(values)

    def expire_images(self, now: str, limit: int) -> list[Image]:
        upper = Bound(now + AFTER_INSTANT, inclusive=False)  # expires_at <= now
        expired: list[Image] = []
        due = query_partition(
            self._table, "due", ("due_pk", DUE_IMAGES), "due_sk", upper=upper, page=limit
        )
        for item in due:
            if len(expired) >= limit:
                break
            image: Image | None = image_from_item(item)
            for _ in range(_MAX_RETRIES):
                if image is None or image.expires_at is None or image.expires_at > now:
                    break  # gone, or kept longer since the index was read
                if self._remove_expired(image):
                    expired.append(image)
                    break
                image = self._read_image(image.image_id)  # changed meanwhile: look again
        return expired

    def _remove_expired(self, image: Image) -> bool:
        """Delete the record with the counter update, conditional on the state that was read
        (the expiry has not moved and the counters move from the state it is in)."""
        delete = {
            "Delete": {
                "TableName": self._table.name,
                "Key": primary_key(f"image#{image.image_id}", "image"),
                "ConditionExpression": "expires_at = :expires AND #status = :status "
                "AND is_favorite = :favorite",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": serialize(
                    {
                        ":expires": image.expires_at,
                        ":status": image.status,
                        ":favorite": image.is_favorite,
                    }
                ),
            }
        }
        # A tombstone was counted out when it was deleted: no counter write then.
        return self._table.transact_if_first_holds(
            [delete, *counter_writes(self._table.name, [image], [-1])]
        )

    def _read_image(self, image_id: str) -> Image | None:
        item = self._table.get(f"image#{image_id}", "image")
        return image_from_item(item) if item else None

    def _optimistic(
        self, tenant_id: str, image_id: str, attempt: Callable[[Image], Image]
    ) -> Image | None:
        """Read the live image and try `attempt` on it; its conditional write raises
        _Conflict (and it is tried on a fresh read) when a racing write changed the state it
        depends on. None when there is no such image, or it was deleted meanwhile."""
        for _ in range(_MAX_RETRIES):
            image = self._read_image(image_id)
            if image is None or not _live(image, tenant_id):
                return None
            try:
                return attempt(image)
            except _Conflict:
                continue
        raise RuntimeError(f"image {image_id} kept changing; gave up after {_MAX_RETRIES} tries")

    def _write_image(self, before: Image, after: Image, fields: dict[str, Any]) -> None:
        """Update the image from `before` to `after` and move the counters by the difference,
        in one transaction conditional on `before`'s status and favourite."""
        update = Update(
            primary_key(f"image#{before.image_id}", "image"),
            fields,
            condition="#status = :status AND is_favorite = :favorite",
            values={":status": before.status, ":favorite": before.is_favorite},
        )
        counters = counter_writes(self._table.name, [before, after], [-1, +1])
        if counters:
            written = self._table.transact_if_first_holds(
                [update.transact(self._table.name), *counters]
            )
        else:
            written = self._table.update(update)
        if not written:
            raise _Conflict

    # --- the counters -------------------------------------------------------------------

    def _counters(self, tenant_id: str) -> dict[str, int]:
        item = self._table.get(*counters_key(tenant_id))
        return {name: int(item.get(name, 0)) for name in counter_names()} if item else {}


class _Conflict(Exception):
    """An optimistic write found the item changed since it was read."""


def _live(image: Image | None, tenant_id: str) -> bool:
    """A tenant's image that is not a tombstone; another tenant's is as good as missing."""
    return image is not None and image.tenant_id == tenant_id and image.status != DELETED

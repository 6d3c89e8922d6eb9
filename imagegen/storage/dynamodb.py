"""The repository on DynamoDB: one table, laid out as docs/data-model.md describes.

Every record is one item keyed by `pk`/`sk`; the global secondary indexes are sparse, so an
item is in an index only while it carries that index's key attributes. None is never stored:
an absent attribute is how a record says None, which is also what takes an item out of a
sparse index (an update that sets an index key to None removes the attribute).

Where the SQLite repository relies on a WHERE clause or a transaction, this one relies on a
ConditionExpression or on TransactWriteItems, so the same races have the same winners.
Reads of the table itself are strongly consistent, as SQLite's reads of its own writes are;
Queries of an index cannot be (DynamoDB's indexes are eventually consistent), and every
write that follows one is conditional on what the index showed.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from imagegen.records import (
    BATCH_COMPLETED_EVENT,
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
    parse_utc,
    search_text,
)
from imagegen.storage.repository import IdempotencyKeyTaken

# The index a listing reads, by its sort, and the attribute that index sorts by.
_LISTING_INDEXES = {
    "created_at": ("by_tenant_status", "created_sk"),
    "saved_at": ("images_by_saved", "saved_sk"),
    "view_count": ("images_by_views", "views_sk"),
    "size_bytes": ("images_by_size", "size_sk"),
}
# Every attribute that puts an image in the library's indexes; a deleted image loses them.
_IMAGE_INDEX_KEYS = ("tenant_status_pk", *(sk for _, sk in _LISTING_INDEXES.values()))
# The partitions of the `due` index.
_DUE_PENDING_JOBS = "pending-jobs"
_DUE_LEASES = "leases"
_DUE_WEBHOOKS = "webhooks"
_DUE_IMAGES = "expiring-images"
_DUE_IDEMPOTENCY = "idempotency-keys"
# Timestamps have one fixed width, and every sort key is "<timestamp>#<id>": "$" is the
# character after "#", so "<t>$" is above every key of instant t and below every later one.
_AFTER_INSTANT = "$"
# A job's fields kept as JSON strings (the doc's item table).
_JOB_JSON_FIELDS = frozenset({"request", "plan", "error", "image_ids", "cost"})
# DynamoDB TTL deletes a record a day after its expiry: a backstop for a sweeper that did not
# run, late enough that a running sweeper always gets there first (and moves the counters).
_TTL_GRACE = timedelta(days=1)
# Optimistic writes (a view, a PATCH, a delete) retry when a racing write changed the item.
_MAX_RETRIES = 20
_BATCH_GET_SIZE = 100  # BatchGetItem's limit

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
R = TypeVar("R")


class DynamoRepository:
    def __init__(
        self, table_name: str, client: Any | None = None, region_name: str | None = None
    ) -> None:
        # No endpoint_url here: boto3 reads AWS_ENDPOINT_URL_DYNAMODB itself (moto, in tests).
        self._table = table_name
        self._client = client or boto3.client("dynamodb", region_name=region_name)

    # --- API keys -----------------------------------------------------------------------

    def add_api_key(self, key: ApiKey) -> None:
        item = _item(_fields(key), pk=f"key#{key.key_hash}", sk="key")
        self._client.put_item(**_put(self._table, item)["Put"])

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        item = self._get(f"key#{key_hash}", "key")
        return _record(ApiKey, item) if item else None

    # --- jobs ---------------------------------------------------------------------------

    def add_job(self, job: Job, idempotency: IdempotencyKey | None = None) -> None:
        self._create([_put(self._table, _job_item(job), new=True)], idempotency)

    def get_job(self, tenant_id: str, job_id: str) -> Job | None:
        job = self.load_job(job_id)
        return job if job is not None and job.tenant_id == tenant_id else None

    def load_job(self, job_id: str) -> Job | None:
        item = self._get(f"job#{job_id}", "job")
        return _job(item) if item else None

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
        upper = _Bound(f"{after[0]}#{after[1]}", inclusive=False) if after else None
        filter_ = _Filter()
        if user_id is not None:
            filter_.equals("user_id", user_id)
        items = self._query(
            index, partition, "created_sk", upper=upper, forward=False, filter_=filter_, page=limit
        )
        return [_job(item) for item in itertools.islice(items, max(limit, 0))]

    def start_job(self, job_id: str, run_id: str, started_at: str, lease_expires_at: str) -> bool:
        tenant_id = self._job_tenant(job_id)
        if tenant_id is None:
            return False
        update = _Update(
            _key(f"job#{job_id}", "job"),
            {
                "started_at": started_at,
                "status_message": "generating",
                "run_id": run_id,
                "lease_expires_at": lease_expires_at,
                "progress": 0,
                **_job_state(tenant_id, job_id, PROCESSING, lease_expires_at=lease_expires_at),
            },
            condition="#status = :pending",
            values={":pending": PENDING},
        )
        return self._conditional(update)

    def renew_lease(self, job_id: str, run_id: str, lease_expires_at: str) -> bool:
        update = _Update(
            _key(f"job#{job_id}", "job"),
            {"lease_expires_at": lease_expires_at, "due_sk": f"{lease_expires_at}#{job_id}"},
            condition=_HELD,
            values=_held(run_id),
        )
        return self._conditional(update)

    def update_progress(self, job_id: str, run_id: str, progress: int, message: str) -> bool:
        update = _Update(
            _key(f"job#{job_id}", "job"),
            {"progress": progress, "status_message": message},
            condition=_HELD,
            values=_held(run_id),
        )
        return self._conditional(update)

    def cancel_job(self, tenant_id: str, job_id: str, cancelled_at: str) -> bool:
        update = _Update(
            _key(f"job#{job_id}", "job"),
            {
                "status_message": "cancelled",
                "completed_at": cancelled_at,
                "lease_expires_at": None,
                **_job_state(tenant_id, job_id, CANCELLED),
            },
            condition="tenant_id = :tenant AND #status IN (:pending, :processing)",
            values={":tenant": tenant_id, ":pending": PENDING, ":processing": PROCESSING},
        )
        return self._conditional(update)

    def retry_job(self, tenant_id: str, job_id: str, queued_at: str) -> bool:
        update = _Update(
            _key(f"job#{job_id}", "job"),
            {
                "status_message": "queued for retry",
                "progress": 0,
                "error": None,
                "started_at": None,
                "completed_at": None,
                "run_id": None,
                "recoveries": 0,
                "queued_at": queued_at,
                **_job_state(tenant_id, job_id, PENDING, queued_at=queued_at),
            },
            add={"retry_count": 1},
            condition="tenant_id = :tenant AND #status = :failed",
            values={":tenant": tenant_id, ":failed": FAILED},
        )
        return self._conditional(update)

    def requeue_job(self, job_id: str, run_id: str, queued_at: str, message: str) -> bool:
        tenant_id = self._job_tenant(job_id)
        if tenant_id is None:
            return False
        update = _Update(
            _key(f"job#{job_id}", "job"),
            {
                "status_message": message,
                "progress": 0,
                "started_at": None,
                "run_id": None,
                "lease_expires_at": None,
                "queued_at": queued_at,
                **_job_state(tenant_id, job_id, PENDING, queued_at=queued_at),
            },
            add={"recoveries": 1},
            condition=_HELD,
            values=_held(run_id),
        )
        return self._conditional(update)

    def mark_queued(self, job_id: str, queued_at: str, message: str | None = None) -> bool:
        # A pending job is in the `pending-jobs` partition already; only its place moves.
        changes: dict[str, Any] = {"queued_at": queued_at, "due_sk": f"{queued_at}#{job_id}"}
        if message is not None:
            changes["status_message"] = message
        update = _Update(
            _key(f"job#{job_id}", "job"),
            changes,
            condition="#status = :pending",
            values={":pending": PENDING},
        )
        return self._conditional(update)

    def jobs_with_expired_leases(self, now: str, limit: int) -> list[Job]:
        return self._due_jobs(_DUE_LEASES, _Bound(now, inclusive=False), limit)

    def pending_jobs(self, queued_before: str, limit: int) -> list[Job]:
        return self._due_jobs(_DUE_PENDING_JOBS, _Bound(queued_before, inclusive=False), limit)

    def _due_jobs(self, partition: str, upper: _Bound, limit: int) -> list[Job]:
        items = self._query("due", ("due_pk", partition), "due_sk", upper=upper, page=limit)
        return [_job(item) for item in itertools.islice(items, max(limit, 0))]

    def complete_job(
        self,
        job_id: str,
        run_id: str,
        images: list[Image],
        cost: dict[str, float],
        completed_at: str,
        webhook: Webhook | None = None,
    ) -> bool:
        tenant_id = self._job_tenant(job_id)
        if tenant_id is None:
            return False
        job = _Update(
            _key(f"job#{job_id}", "job"),
            {
                "progress": 100,
                "status_message": "completed",
                "image_ids": json.dumps([image.image_id for image in images]),
                "cost": json.dumps(cost),
                "completed_at": completed_at,
                "lease_expires_at": None,
                **_job_state(tenant_id, job_id, COMPLETED),
            },
            condition=_HELD,
            values=_held(run_id),
        )
        writes = [job.transact(self._table)]
        writes += [_put(self._table, _image_item(image), new=True) for image in images]
        writes += self._counter_writes(images, [+1] * len(images))
        if webhook is not None:
            writes.append(_put(self._table, _webhook_item(webhook), new=True))
        # Nothing is recorded when the job was cancelled or taken back meanwhile.
        return self._transact_if_first_holds(writes)

    def fail_job(
        self,
        job_id: str,
        error: dict[str, Any],
        completed_at: str,
        run_id: str | None = None,
        webhook: Webhook | None = None,
    ) -> bool:
        tenant_id = self._job_tenant(job_id)
        if tenant_id is None:
            return False
        if run_id is None:
            condition, values = "#status = :pending", {":pending": PENDING}
        else:
            condition, values = _HELD, _held(run_id)
        update = _Update(
            _key(f"job#{job_id}", "job"),
            {
                "status_message": error["message"],
                "error": json.dumps(error),
                "completed_at": completed_at,
                "lease_expires_at": None,
                **_job_state(tenant_id, job_id, FAILED),
            },
            condition=condition,
            values=values,
        )
        if webhook is None:
            return self._conditional(update)
        return self._transact_if_first_holds(
            [update.transact(self._table), _put(self._table, _webhook_item(webhook), new=True)]
        )

    def _job_tenant(self, job_id: str) -> str | None:
        """The job's tenant, which never changes: a state change rewrites index keys that
        name it, and an update expression cannot build them from the item's own attributes."""
        item = self._get(f"job#{job_id}", "job", projection=("tenant_id",))
        return item["tenant_id"] if item else None

    # --- batches ------------------------------------------------------------------------

    def add_batch(
        self, batch: Batch, jobs: list[Job], idempotency: IdempotencyKey | None = None
    ) -> None:
        batch_item = _item(_fields(batch), pk=f"batch#{batch.batch_id}", sk="batch")
        writes = [_put(self._table, batch_item, new=True)]
        writes += [_put(self._table, _job_item(job), new=True) for job in jobs]
        self._create(writes, idempotency)

    def get_batch(self, tenant_id: str, batch_id: str) -> Batch | None:
        item = self._get(f"batch#{batch_id}", "batch")
        if not item or item["tenant_id"] != tenant_id:
            return None
        return _record(Batch, item)

    def batch_job_states(self, batch_id: str) -> dict[str, str]:
        batch = self._get(f"batch#{batch_id}", "batch", projection=("job_ids",))
        return self._job_states(batch.get("job_ids", []) if batch else [])

    def _job_states(self, job_ids: list[str]) -> dict[str, str]:
        """job id -> status, for those of the jobs that exist (one BatchGetItem)."""
        keys = [(f"job#{job_id}", "job") for job_id in job_ids]
        jobs = self._get_many(keys, projection=("job_id", "status"))
        return {job["job_id"]: job["status"] for job in jobs}

    def finish_batch_if_done(
        self, batch_id: str, completed_at: str, webhook: Webhook | None = None
    ) -> bool:
        batch = self._get(f"batch#{batch_id}", "batch", projection=("job_ids", "status"))
        if not batch or batch["status"] != PENDING:
            return False  # finished already (or no such batch): not this caller's move
        jobs = self._job_states(batch.get("job_ids", []))
        if any(status in (PENDING, PROCESSING) for status in jobs.values()):
            return False
        finish = _Update(
            _key(f"batch#{batch_id}", "batch"),
            {"status": COMPLETED, "completed_at": completed_at},
            condition="#status = :pending",
            values={":pending": PENDING},
        )
        writes = [finish.transact(self._table)]
        # A job that was read finished could be retried before the batch moves: the check
        # makes "every job finished" part of the same write (a transaction holds 100 items:
        # the batch, at most 98 jobs and the webhook).
        for job_id in jobs:
            writes.append(
                {
                    "ConditionCheck": {
                        "TableName": self._table,
                        "Key": _key(f"job#{job_id}", "job"),
                        "ConditionExpression": "NOT (#status IN (:pending, :processing))",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": _serialize(
                            {":pending": PENDING, ":processing": PROCESSING}
                        ),
                    }
                }
            )
        if webhook is not None:
            writes.append(_put(self._table, _webhook_item(webhook), new=True))
        try:
            self._transact(writes)
        except _Cancelled as cancelled:
            if cancelled.any_failed():  # finished by another caller, or a job is running again
                return False
            raise
        return True

    # --- idempotency keys ---------------------------------------------------------------

    def find_idempotency_key(self, tenant_id: str, key: str, now: str) -> IdempotencyKey | None:
        item = self._get(f"idem#{tenant_id}#{key}", "idem")
        if not item or item["expires_at"] <= now:
            return None
        return _record(IdempotencyKey, item)

    def delete_idempotency_key(self, tenant_id: str, key: str) -> None:
        self._client.delete_item(TableName=self._table, Key=_key(f"idem#{tenant_id}#{key}", "idem"))

    def delete_expired_idempotency_keys(self, now: str) -> int:
        upper = _Bound(now + _AFTER_INSTANT, inclusive=False)  # expires_at <= now
        deleted = 0
        for item in self._query("due", ("due_pk", _DUE_IDEMPOTENCY), "due_sk", upper=upper):
            # Conditional: the key may have been bound again since the index was read.
            deleted += self._conditional_delete(
                (item["pk"], item["sk"]), "expires_at <= :now", {":now": now}
            )
        return deleted

    def _create(self, writes: list[dict[str, Any]], idempotency: IdempotencyKey | None) -> None:
        """Put new items, with the idempotency key bound in the same transaction (first)."""
        if idempotency is None and len(writes) == 1:
            self._client.put_item(**writes[0]["Put"])
            return
        if idempotency is not None:
            writes = [_idempotency_put(self._table, idempotency), *writes]
        try:
            self._transact(writes)
        except _Cancelled as cancelled:
            if idempotency is not None and cancelled.failed(0):
                existing = cancelled.item(0) or self._get(
                    f"idem#{idempotency.tenant_id}#{idempotency.key}", "idem"
                )
                raise IdempotencyKeyTaken(_record(IdempotencyKey, existing or {})) from None
            raise

    # --- webhooks -----------------------------------------------------------------------

    def claim_due_webhooks(self, now: str, claim_until: str, limit: int) -> list[Webhook]:
        upper = _Bound(now + _AFTER_INSTANT, inclusive=False)  # next_attempt_at <= now
        claimed: list[Webhook] = []
        due = self._query("due", ("due_pk", _DUE_WEBHOOKS), "due_sk", upper=upper, page=limit)
        for item in due:
            if len(claimed) >= limit:
                break
            # The claim is conditional on the row as the index showed it: of two senders
            # that read the same row, one moves it and the other's condition fails.
            update = _Update(
                _key(item["pk"], item["sk"]),
                {"next_attempt_at": claim_until, "due_sk": f"{claim_until}#{item['webhook_id']}"},
                condition="#status = :pending AND next_attempt_at = :seen",
                values={":pending": WEBHOOK_PENDING, ":seen": item["next_attempt_at"]},
            )
            old = self._conditional_returning(update, "ALL_OLD")
            if old is not None:
                claimed.append(_record(Webhook, old))  # as read, like SQLite's SELECT
        return claimed

    def record_webhook_attempt(
        self,
        attempt: WebhookAttempt,
        body: str | None,
        status: str,
        next_attempt_at: str | None,
    ) -> None:
        attempt_item = _item(
            _fields(attempt),
            pk=f"attempts#{attempt.subject_id}",
            sk=f"{attempt.attempted_at}#{attempt.webhook_id}#{attempt.attempt:04d}",
        )
        delivered = status == WEBHOOK_DELIVERED
        waiting = status == WEBHOOK_PENDING and next_attempt_at is not None
        webhook = _Update(
            _key(f"webhook#{attempt.webhook_id}", "webhook"),
            {
                "status": status,
                "attempts": attempt.attempt,
                "next_attempt_at": next_attempt_at,
                "body": body,
                "delivered_at": attempt.attempted_at if delivered else None,
                "due_pk": _DUE_WEBHOOKS if waiting else None,
                "due_sk": f"{next_attempt_at}#{attempt.webhook_id}" if waiting else None,
            },
            condition="attribute_exists(pk)",
        )
        writes = [_put(self._table, attempt_item), webhook.transact(self._table)]
        if delivered:
            subject = "batch" if attempt.event == BATCH_COMPLETED_EVENT else "job"
            mark = _Update(
                _key(f"{subject}#{attempt.subject_id}", subject),
                {"webhook_delivered": True},
                condition="attribute_exists(pk)",
            )
            writes.append(mark.transact(self._table))
        # An update of a missing item would create it: the conditions keep a webhook or a
        # subject that is not there from being invented. SQLite's UPDATE of a missing row
        # changes nothing and the attempt is still logged, so a missing one is left out (the
        # attempt's Put has no condition, so this ends).
        while True:
            try:
                self._transact(writes)
                return
            except _Cancelled as cancelled:
                if not cancelled.any_failed():
                    raise
                writes = [write for i, write in enumerate(writes) if not cancelled.failed(i)]

    def webhook_attempts(self, tenant_id: str, subject_id: str) -> list[WebhookAttempt]:
        filter_ = _Filter()
        filter_.equals("tenant_id", tenant_id)
        items = self._query(None, ("pk", f"attempts#{subject_id}"), "sk", filter_=filter_)
        return [_record(WebhookAttempt, item) for item in items]

    # --- images -------------------------------------------------------------------------

    def add_image(self, image: Image) -> None:
        self._transact(
            [_put(self._table, _image_item(image), new=True), *self._counter_writes([image], [+1])]
        )

    def get_images(self, tenant_id: str, image_ids: list[str]) -> list[Image]:
        keys = [(f"image#{image_id}", "image") for image_id in dict.fromkeys(image_ids)]
        found = {}
        for item in self._get_many(keys):
            image = _image(item)
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
        index, sort_attr = _LISTING_INDEXES[query.sort]
        statuses = [s for s in dict.fromkeys(query.statuses) if s in LIBRARY_STATUSES]
        limit = max(limit, 0)
        skip = 0 if after is not None else max(offset, 0)
        created_from, created_to = _created_range(query)
        lower, upper = created_from, created_to  # of this page
        if after is not None:  # the cursor is a key condition: a deep page reads only itself
            cursor = _Bound(after, inclusive=False)
            if query.descending:
                upper = _Bound.lowest(upper, cursor)
            else:
                lower = _Bound.highest(lower, cursor)
        filter_ = _image_filter(query)
        # One Query per status partition, read lazily and merged in the listing's order, so
        # a page reads about `limit` items of the partitions together (one more tells
        # whether more follow).
        wanted = skip + limit + 1
        taken = _Tally()  # how many the merge has handed out so far
        sizes = _page_sizes(wanted, len(statuses), filtered=bool(filter_.clauses), taken=taken)
        partitions = [
            self._query(
                index,
                ("tenant_status_pk", f"{tenant_id}#images#{status}"),
                sort_attr,
                lower=lower,
                upper=upper,
                forward=not query.descending,
                filter_=filter_,
                page=sizes,
            )
            for status in statuses
        ]
        merged = heapq.merge(
            *partitions, key=lambda item: item[sort_attr], reverse=query.descending
        )
        rows = [_image(item) for item in itertools.islice(taken.counting(merged), skip, wanted)]
        images = rows[:limit]
        more = len(rows) > limit and bool(images)
        if query.counted:
            total = _counted_total(self._counters(tenant_id), statuses, query.is_favorite)
        else:
            total = sum(
                self._count(
                    index,
                    ("tenant_status_pk", f"{tenant_id}#images#{status}"),
                    sort_attr,
                    created_from,
                    created_to,
                    filter_,
                )
                for status in statuses
            )
        return ImagePage(
            images=images,
            total=total,
            next_after=image_sort_key(images[-1], query.sort) if more else None,
        )

    def image_summary(self, tenant_id: str) -> ImageSummary:
        return _summary(self._counters(tenant_id))

    def record_image_view(self, tenant_id: str, image_id: str) -> Image | None:
        # view_count is in a sort key (views_sk), which an ADD cannot rewrite: read, then
        # write the next count conditional on the one read, again on a race.
        def view(image: Image) -> Image:
            views = image.view_count + 1
            update = _Update(
                _key(f"image#{image_id}", "image"),
                {
                    "view_count": views,
                    "views_sk": image_sort_key(replace(image, view_count=views), "view_count"),
                },
                condition="#status = :status AND view_count = :seen",
                values={":status": image.status, ":seen": image.view_count},
            )
            item = self._conditional_returning(update, "ALL_NEW")
            if item is None:
                raise _Conflict
            return _image(item)

        return self._optimistic(tenant_id, image_id, view)

    def record_image_download(self, tenant_id: str, image_id: str) -> Image | None:
        update = _Update(
            _key(f"image#{image_id}", "image"),
            {},
            add={"download_count": 1},
            condition="tenant_id = :tenant AND #status <> :deleted",
            values={":tenant": tenant_id, ":deleted": DELETED},
        )
        item = self._conditional_returning(update, "ALL_NEW")
        return _image(item) if item is not None else None

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
                **_image_keys(after),
                **_expiry_keys(after),
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
            fields = {"status": DELETED, "deleted_at": deleted_at, **_image_keys(tombstone)}
            self._write_image(before, tombstone, fields)
            return before

        return self._optimistic(tenant_id, image_id, delete)

    def recount_images(self, tenant_id: str) -> ImageSummary:
        counters: dict[str, int] = {}
        for status in LIBRARY_STATUSES:
            items = self._query(
                "by_tenant_status",
                ("tenant_status_pk", f"{tenant_id}#images#{status}"),
                "created_sk",
                projection=("size_bytes", "is_favorite"),
            )
            for item in items:
                for name, value in _contribution(
                    status, item["size_bytes"], item["is_favorite"]
                ).items():
                    counters[name] = counters.get(name, 0) + value
        values = {name: counters.get(name, 0) for name in _counter_names()}
        item = _item(values, pk=f"tenant#{tenant_id}", sk="image-counters", tenant_id=tenant_id)
        self._client.put_item(**_put(self._table, item)["Put"])
        return _summary(values)

    def expire_images(self, now: str, limit: int) -> list[Image]:
        upper = _Bound(now + _AFTER_INSTANT, inclusive=False)  # expires_at <= now
        expired: list[Image] = []
        due = self._query("due", ("due_pk", _DUE_IMAGES), "due_sk", upper=upper, page=limit)
        for item in due:
            if len(expired) >= limit:
                break
            image: Image | None = _image(item)
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
                "TableName": self._table,
                "Key": _key(f"image#{image.image_id}", "image"),
                "ConditionExpression": "expires_at = :expires AND #status = :status "
                "AND is_favorite = :favorite",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": _serialize(
                    {
                        ":expires": image.expires_at,
                        ":status": image.status,
                        ":favorite": image.is_favorite,
                    }
                ),
            }
        }
        # A tombstone was counted out when it was deleted: no counter write then.
        return self._transact_if_first_holds([delete, *self._counter_writes([image], [-1])])

    def _read_image(self, image_id: str) -> Image | None:
        item = self._get(f"image#{image_id}", "image")
        return _image(item) if item else None

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
        update = _Update(
            _key(f"image#{before.image_id}", "image"),
            fields,
            condition="#status = :status AND is_favorite = :favorite",
            values={":status": before.status, ":favorite": before.is_favorite},
        )
        counters = self._counter_writes([before, after], [-1, +1])
        if counters:
            written = self._transact_if_first_holds([update.transact(self._table), *counters])
        else:
            written = self._conditional(update)
        if not written:
            raise _Conflict

    # --- the counters -------------------------------------------------------------------

    def _counters(self, tenant_id: str) -> dict[str, int]:
        item = self._get(f"tenant#{tenant_id}", "image-counters")
        return {name: int(item.get(name, 0)) for name in _counter_names()} if item else {}

    def _counter_writes(self, images: list[Image], signs: list[int]) -> list[dict[str, Any]]:
        """The counters' Update for images counted in (+1) or out (-1), if anything moves."""
        delta: dict[str, int] = {}
        for image, sign in zip(images, signs, strict=True):
            for name, value in _contribution(
                image.status, image.size_bytes, image.is_favorite
            ).items():
                delta[name] = delta.get(name, 0) + sign * value
        delta = {name: value for name, value in delta.items() if value}
        if not delta:
            return []
        tenant_id = images[0].tenant_id
        update = _Update(
            _key(f"tenant#{tenant_id}", "image-counters"), {"tenant_id": tenant_id}, add=delta
        )
        return [update.transact(self._table)]

    # --- DynamoDB calls -----------------------------------------------------------------

    def _get(
        self, pk: str, sk: str, projection: Iterable[str] | None = None
    ) -> dict[str, Any] | None:
        """One item, strongly consistent (a record is read back right after it is written)."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "Key": _key(pk, sk),
            "ConsistentRead": True,
        }
        if projection is not None:
            params.update(_projection(projection))
        item = self._client.get_item(**params).get("Item")
        return _deserialize(item) if item else None

    def _get_many(
        self, keys: list[tuple[str, str]], projection: Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        """BatchGetItem in chunks of 100, strongly consistent, retrying unprocessed keys."""
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {"ConsistentRead": True}
        if projection is not None:
            request.update(_projection(("pk", "sk", *projection)))
        for start in range(0, len(keys), _BATCH_GET_SIZE):
            chunk = [_key(pk, sk) for pk, sk in keys[start : start + _BATCH_GET_SIZE]]
            pending: dict[str, Any] = {self._table: {**request, "Keys": chunk}}
            for attempt in itertools.count():
                response = self._client.batch_get_item(RequestItems=pending)
                found += [_deserialize(item) for item in response["Responses"].get(self._table, [])]
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))  # throttled: back off
        return found

    def _query(
        self,
        index: str | None,
        partition: tuple[str, str],
        sort_attr: str,
        lower: _Bound | None = None,
        upper: _Bound | None = None,
        forward: bool = True,
        filter_: _Filter | None = None,
        page: int | Callable[[int], int] | None = None,
        projection: Iterable[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The items of one partition between the bounds, in sort key order, read a Query
        page (`page` items, before the filter; or page(n) for the n-th page) at a time as
        the caller consumes them."""
        params = _query_params(self._table, index, partition, sort_attr, lower, upper, filter_)
        if params is None:
            return
        params["ScanIndexForward"] = forward
        if index is None:
            params["ConsistentRead"] = True
        if projection is not None:
            params.update(_merge_names(params, _projection((sort_attr, *projection))))
        for number in itertools.count():
            if page is not None:
                params["Limit"] = max(page(number) if callable(page) else page, 1)
            response = self._client.query(**params)
            for raw in response.get("Items", []):
                item = _deserialize(raw)
                if (lower and not lower.admits_above(item[sort_attr])) or (
                    upper and not upper.admits_below(item[sort_attr])
                ):
                    continue  # an exclusive bound that BETWEEN had to include
                yield item
            if "LastEvaluatedKey" not in response:
                return
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _count(
        self,
        index: str,
        partition: tuple[str, str],
        sort_attr: str,
        lower: _Bound | None,
        upper: _Bound | None,
        filter_: _Filter,
    ) -> int:
        """How many items of the partition match: every item the filter examines is read."""
        params = _query_params(self._table, index, partition, sort_attr, lower, upper, filter_)
        if params is None:
            return 0
        params["Select"] = "COUNT"
        total = 0
        while True:
            response = self._client.query(**params)
            total += response["Count"]
            if "LastEvaluatedKey" not in response:
                return total
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _conditional(self, update: _Update) -> bool:
        """Run a conditional UpdateItem; False (nothing written) when its condition fails."""
        return (
            _unless_condition_fails(self._client.update_item, **update.params(self._table))
            is not None
        )

    def _conditional_returning(self, update: _Update, returning: str) -> dict[str, Any] | None:
        """As _conditional, with the item before (ALL_OLD) or after (ALL_NEW) the write."""
        response = _unless_condition_fails(
            self._client.update_item, **update.params(self._table), ReturnValues=returning
        )
        return None if response is None else _deserialize(response.get("Attributes", {}))

    def _conditional_delete(
        self, key: tuple[str, str], condition: str, values: dict[str, Any]
    ) -> bool:
        response = _unless_condition_fails(
            self._client.delete_item,
            TableName=self._table,
            Key=_key(*key),
            ConditionExpression=condition,
            ExpressionAttributeValues=_serialize(values),
        )
        return response is not None

    def _transact_if_first_holds(self, writes: list[dict[str, Any]]) -> bool:
        """_transact, False (nothing written) when the first write's condition fails: the
        record whose state the others follow from had moved on."""
        try:
            self._transact(writes)
        except _Cancelled as cancelled:
            if cancelled.failed(0):
                return False
            raise
        return True

    def _transact(self, writes: list[dict[str, Any]]) -> None:
        """TransactWriteItems, all or nothing; raises _Cancelled with the reasons.

        The request token makes botocore's own retry of a transaction that did succeed
        (its answer lost) succeed again rather than fail its conditions. A transaction
        cancelled only because another one held an item at the time is tried again: its
        conditions are then evaluated against the other's outcome.
        """
        for attempt in itertools.count():
            try:
                self._client.transact_write_items(
                    TransactItems=writes, ClientRequestToken=uuid.uuid4().hex
                )
                return
            except ClientError as error:
                if _code(error) != "TransactionCanceledException":
                    raise
                cancelled = _Cancelled(error.response.get("CancellationReasons", []))
                if cancelled.conflicted() and not cancelled.any_failed() and attempt < 8:
                    time.sleep(min(0.02 * 2**attempt, 1.0))
                    continue
                raise cancelled from None


# --- conditional writes, as data ----------------------------------------------------------

# A write of a running attempt: the job is still processing under that attempt's run id.
_HELD = "#status = :processing AND run_id = :run"


def _held(run_id: str) -> dict[str, Any]:
    return {":processing": PROCESSING, ":run": run_id}


class _Conflict(Exception):
    """An optimistic write found the item changed since it was read."""


class _Cancelled(Exception):
    """A cancelled transaction, with DynamoDB's reason for each of its items (in order)."""

    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        super().__init__([reason.get("Code") for reason in reasons])
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        """Whether the item's condition failed."""
        return (
            index < len(self.reasons)
            and self.reasons[index].get("Code") == "ConditionalCheckFailed"
        )

    def any_failed(self) -> bool:
        return any(self.failed(i) for i in range(len(self.reasons)))

    def conflicted(self) -> bool:
        return any(reason.get("Code") == "TransactionConflict" for reason in self.reasons)

    def item(self, index: int) -> dict[str, Any] | None:
        """The item as it was, for a write asking ReturnValuesOnConditionCheckFailure."""
        raw = self.reasons[index].get("Item") if index < len(self.reasons) else None
        return _deserialize(raw) if raw else None


@dataclass
class _Update:
    """An UpdateItem: SET what is given (a None value REMOVEs the attribute: an absent
    attribute is how None is stored, and what takes an item out of a sparse index), ADD the
    increments, under an optional condition whose #names are the attributes' own names."""

    key: dict[str, Any]
    changes: dict[str, Any]
    add: dict[str, int] = field(default_factory=dict)
    condition: str | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def params(self, table: str) -> dict[str, Any]:
        names: dict[str, str] = {}
        values: dict[str, Any] = dict(self.values)
        sets, removes, adds = [], [], []
        for i, (name, value) in enumerate(self.changes.items()):
            names[f"#u{i}"] = name
            if value is None:
                removes.append(f"#u{i}")
            else:
                sets.append(f"#u{i} = :u{i}")
                values[f":u{i}"] = value
        for i, (name, value) in enumerate(self.add.items()):
            names[f"#a{i}"] = name
            adds.append(f"#a{i} :a{i}")
            values[f":a{i}"] = value
        clauses = [
            f"{verb} {', '.join(parts)}"
            for verb, parts in (("SET", sets), ("REMOVE", removes), ("ADD", adds))
            if parts
        ]
        params: dict[str, Any] = {
            "TableName": table,
            "Key": self.key,
            "UpdateExpression": " ".join(clauses),
        }
        if self.condition:
            params["ConditionExpression"] = self.condition
            names.update(_names_in(self.condition))
        if names:
            params["ExpressionAttributeNames"] = names
        if values:
            params["ExpressionAttributeValues"] = _serialize(values)
        return params

    def transact(self, table: str) -> dict[str, Any]:
        """The same update as an item of TransactWriteItems."""
        return {"Update": self.params(table)}


def _put(table: str, item: dict[str, Any], new: bool = False) -> dict[str, Any]:
    """A transaction's Put of a record; `new`: only if no item has its key (like INSERT)."""
    put: dict[str, Any] = {"TableName": table, "Item": _serialize_item(item)}
    if new:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    return {"Put": put}


def _idempotency_put(table: str, binding: IdempotencyKey) -> dict[str, Any]:
    """The binding, unless the key is bound already and the binding has not expired; a
    failed condition returns the existing binding (for IdempotencyKeyTaken)."""
    item = _item(
        _fields(binding),
        pk=f"idem#{binding.tenant_id}#{binding.key}",
        sk="idem",
        due_pk=_DUE_IDEMPOTENCY,
        due_sk=f"{binding.expires_at}#{binding.tenant_id}#{binding.key}",
        # The doc's `ttl` = expiry: an expired binding is void (find_idempotency_key and the
        # condition below check expires_at), so TTL may remove it as soon as it expires.
        ttl=_epoch(binding.expires_at),
    )
    return {
        "Put": {
            "TableName": table,
            "Item": _serialize_item(item),
            "ConditionExpression": "attribute_not_exists(pk) OR expires_at <= :now",
            "ExpressionAttributeValues": _serialize({":now": binding.created_at}),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


# --- queries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bound:
    """One end of a sort key range."""

    value: str
    inclusive: bool

    def admits_above(self, key: str) -> bool:  # as a lower bound
        return key > self.value or (self.inclusive and key == self.value)

    def admits_below(self, key: str) -> bool:  # as an upper bound
        return key < self.value or (self.inclusive and key == self.value)

    @staticmethod
    def lowest(a: _Bound | None, b: _Bound) -> _Bound:
        """The tighter of two upper bounds."""
        if a is None or b.value < a.value or (b.value == a.value and not b.inclusive):
            return b
        return a

    @staticmethod
    def highest(a: _Bound | None, b: _Bound) -> _Bound:
        """The tighter of two lower bounds."""
        if a is None or b.value > a.value or (b.value == a.value and not b.inclusive):
            return b
        return a


class _Filter:
    """A FilterExpression built up clause by clause (all must hold)."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def _value(self, value: Any) -> str:
        placeholder = f":f{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def _name(self, name: str) -> str:
        self.names[f"#{name}"] = name
        return f"#{name}"

    def equals(self, name: str, value: Any) -> None:
        self.clauses.append(f"{self._name(name)} = {self._value(value)}")

    def compare(self, name: str, operator: str, value: Any) -> None:
        self.clauses.append(f"{self._name(name)} {operator} {self._value(value)}")

    def contains_any(self, name: str, values: Iterable[Any]) -> None:
        """The list (or string) attribute contains at least one of the values."""
        attr = self._name(name)
        options = [f"contains({attr}, {self._value(value)})" for value in values]
        self.clauses.append(f"({' OR '.join(options)})")

    def params(self) -> dict[str, Any]:
        if not self.clauses:
            return {}
        return {
            "FilterExpression": " AND ".join(self.clauses),
            "ExpressionAttributeNames": dict(self.names),
            "ExpressionAttributeValues": _serialize(self.values),
        }


def _query_params(
    table: str,
    index: str | None,
    partition: tuple[str, str],
    sort_attr: str,
    lower: _Bound | None,
    upper: _Bound | None,
    filter_: _Filter | None,
) -> dict[str, Any] | None:
    """A Query's parameters; None when the range is empty (DynamoDB rejects BETWEEN a > b)."""
    names = {"#pk": partition[0]}
    values: dict[str, Any] = {":pk": partition[1]}
    condition = "#pk = :pk"
    if lower and upper:
        if lower.value > upper.value:
            return None
        # One operator per sort key: BETWEEN includes both ends, and _query drops a key equal
        # to an exclusive end.
        condition += " AND #sk BETWEEN :lower AND :upper"
        values.update({":lower": lower.value, ":upper": upper.value})
    elif lower:
        condition += f" AND #sk {'>=' if lower.inclusive else '>'} :lower"
        values[":lower"] = lower.value
    elif upper:
        condition += f" AND #sk {'<=' if upper.inclusive else '<'} :upper"
        values[":upper"] = upper.value
    if lower or upper:
        names["#sk"] = sort_attr
    params: dict[str, Any] = {"TableName": table, "KeyConditionExpression": condition}
    if index is not None:
        params["IndexName"] = index
    extra = filter_.params() if filter_ else {}
    if extra:
        params["FilterExpression"] = extra["FilterExpression"]
        names.update(extra["ExpressionAttributeNames"])
    params["ExpressionAttributeNames"] = names
    params["ExpressionAttributeValues"] = {
        **_serialize(values),
        **extra.get("ExpressionAttributeValues", {}),
    }
    return params


class _Tally:
    """Counts the items a merge hands out."""

    def __init__(self) -> None:
        self.count = 0

    def counting(self, items: Iterator[R]) -> Iterator[R]:
        for item in items:
            self.count += 1
            yield item


def _page_sizes(
    wanted: int, partitions: int, filtered: bool, taken: _Tally
) -> Callable[[int], int]:
    """The Limit of each Query page of a listing's partitions, which a merge reads together.

    Unfiltered, the first page of each is its share of the listing (and one to spare, for
    an uneven split), and a later one asks for what the merge can still take (`taken`
    counts what it has handed out). Filtered, Limit counts items before the filter, so every
    page is the whole listing's size, which spares round trips.
    """

    def size(number: int) -> int:
        if filtered or partitions <= 1:
            return wanted
        if number == 0:
            return -(-wanted // partitions) + 1
        return max(wanted - taken.count, 1)

    return size


def _created_range(query: ImageQuery) -> tuple[_Bound | None, _Bound | None]:
    """created_from/created_to as a range of created_sk, when the listing is by created_at
    (otherwise they are filters, see _image_filter). Both ends are inclusive instants."""
    if query.sort != "created_at":
        return None, None
    lower = _Bound(query.created_from, inclusive=True) if query.created_from else None
    upper = _Bound(query.created_to + _AFTER_INSTANT, inclusive=False) if query.created_to else None
    return lower, upper


def _image_filter(query: ImageQuery) -> _Filter:
    """The listing's filters other than status (the partition) and a created_at range that
    is a key condition."""
    filter_ = _Filter()
    if query.chat_id is not None:
        filter_.equals("chat_id", query.chat_id)
    if query.tags:
        filter_.contains_any("user_tags", query.tags)
    if query.categories:
        filter_.contains_any("categories", query.categories)
    if query.is_favorite is not None:
        filter_.equals("is_favorite", query.is_favorite)
    if query.image_type is not None:
        filter_.equals("image_type", query.image_type)
    if query.search:
        filter_.contains_any("search_text", [query.search.casefold()])
    if query.sort != "created_at":
        if query.created_from is not None:
            filter_.compare("created_at", ">=", query.created_from)
        if query.created_to is not None:
            filter_.compare("created_at", "<=", query.created_to)
    return filter_


def _projection(names: Iterable[str]) -> dict[str, Any]:
    names = list(dict.fromkeys(names))
    return {
        "ProjectionExpression": ", ".join(f"#p{i}" for i in range(len(names))),
        "ExpressionAttributeNames": {f"#p{i}": name for i, name in enumerate(names)},
    }


def _merge_names(params: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "ProjectionExpression": extra["ProjectionExpression"],
        "ExpressionAttributeNames": {
            **params.get("ExpressionAttributeNames", {}),
            **extra["ExpressionAttributeNames"],
        },
    }


def _names_in(expression: str) -> dict[str, str]:
    """#name placeholders of an expression, each standing for the attribute of that name."""
    return {f"#{name}": name for name in re.findall(r"#(\w+)", expression)}


# --- items --------------------------------------------------------------------------------


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _fields(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


def _item(values: dict[str, Any], **keys: Any) -> dict[str, Any]:
    return {**values, **keys}


def _job_item(job: Job) -> dict[str, Any]:
    values = _fields(job)
    for name in _JOB_JSON_FIELDS:
        values[name] = None if values[name] is None else json.dumps(values[name])
    return _item(
        values,
        pk=f"job#{job.job_id}",
        sk="job",
        tenant_pk=f"{job.tenant_id}#jobs",
        created_sk=f"{job.created_at}#{job.job_id}",
        **_job_state(
            job.tenant_id,
            job.job_id,
            job.status,
            queued_at=job.queued_at or job.created_at,
            lease_expires_at=job.lease_expires_at,
        ),
    )


def _job_state(
    tenant_id: str,
    job_id: str,
    status: str,
    queued_at: str | None = None,
    lease_expires_at: str | None = None,
) -> dict[str, Any]:
    """A job's status and the index keys that follow from it: its place in by_tenant_status
    and by_status, and in `due` while it waits (pending) or holds a lease (processing)."""
    due: tuple[str | None, str | None] = (None, None)
    if status == PENDING and queued_at is not None:
        due = (_DUE_PENDING_JOBS, f"{queued_at}#{job_id}")
    elif status == PROCESSING and lease_expires_at is not None:
        due = (_DUE_LEASES, f"{lease_expires_at}#{job_id}")
    return {
        "status": status,
        "tenant_status_pk": f"{tenant_id}#jobs#{status}",
        "status_pk": f"jobs#{status}",
        "due_pk": due[0],
        "due_sk": due[1],
    }


def _job(item: dict[str, Any]) -> Job:
    values: dict[str, Any] = {f.name: item.get(f.name) for f in dataclasses.fields(Job)}
    for name in _JOB_JSON_FIELDS:
        values[name] = None if values[name] is None else json.loads(values[name])
    values["image_ids"] = values["image_ids"] or []
    return Job(**values)


def _webhook_item(webhook: Webhook) -> dict[str, Any]:
    next_attempt_at = webhook.next_attempt_at or webhook.created_at
    waiting = webhook.status == WEBHOOK_PENDING
    return _item(
        {**_fields(webhook), "next_attempt_at": next_attempt_at},
        pk=f"webhook#{webhook.webhook_id}",
        sk="webhook",
        due_pk=_DUE_WEBHOOKS if waiting else None,
        due_sk=f"{next_attempt_at}#{webhook.webhook_id}" if waiting else None,
    )


def _image_item(image: Image) -> dict[str, Any]:
    return _item(
        _fields(image),
        pk=f"image#{image.image_id}",
        sk="image",
        search_text=search_text(image),
        **_image_keys(image),
        **_expiry_keys(image),
    )


def _image_keys(image: Image) -> dict[str, Any]:
    """The image's keys in the library's indexes (all None, so removed, once deleted)."""
    if image.status == DELETED:
        return dict.fromkeys(_IMAGE_INDEX_KEYS)
    keys: dict[str, Any] = {"tenant_status_pk": f"{image.tenant_id}#images#{image.status}"}
    for sort, (_, attr) in _LISTING_INDEXES.items():
        keys[attr] = image_sort_key(image, sort)
    return keys


def _expiry_keys(image: Image) -> dict[str, Any]:
    """The image's place in `due` and its TTL, while it has an expiry."""
    if image.expires_at is None:
        return {"due_pk": None, "due_sk": None, "ttl": None}
    return {
        "due_pk": _DUE_IMAGES,
        "due_sk": f"{image.expires_at}#{image.image_id}",
        "ttl": _epoch(image.expires_at, _TTL_GRACE),
    }


def _image(item: dict[str, Any]) -> Image:
    image = _record(Image, item)
    image.user_tags = list(image.user_tags or [])
    image.categories = list(image.categories or [])
    return image


def _live(image: Image | None, tenant_id: str) -> bool:
    """A tenant's image that is not a tombstone; another tenant's is as good as missing."""
    return image is not None and image.tenant_id == tenant_id and image.status != DELETED


# --- counters -----------------------------------------------------------------------------


def _counter_names() -> list[str]:
    return [f"{kind}_{s}" for s in LIBRARY_STATUSES for kind in ("count", "bytes", "favorites")]


def _contribution(status: str, size_bytes: int, is_favorite: bool) -> dict[str, int]:
    """What one image of that status adds to the counters (a tombstone: nothing)."""
    if status not in LIBRARY_STATUSES:
        return {}
    return {
        f"count_{status}": 1,
        f"bytes_{status}": int(size_bytes),
        f"favorites_{status}": int(bool(is_favorite)),
    }


def _summary(counters: dict[str, int]) -> ImageSummary:
    def get(kind: str, status: str) -> int:
        return counters.get(f"{kind}_{status}", 0)

    return ImageSummary(
        total_images=get("count", TEMPORARY) + get("count", SAVED),
        saved_images=get("count", SAVED),
        temporary_images=get("count", TEMPORARY),
        total_size_bytes=get("bytes", TEMPORARY) + get("bytes", SAVED),
        favorite_count=get("favorites", TEMPORARY) + get("favorites", SAVED),
    )


def _counted_total(counters: dict[str, int], statuses: list[str], favorite: bool | None) -> int:
    """The total of a listing filtered by status and is_favorite only, from the counters."""
    total = 0
    for status in statuses:
        count = counters.get(f"count_{status}", 0)
        favorites = counters.get(f"favorites_{status}", 0)
        total += count if favorite is None else favorites if favorite else count - favorites
    return total


# --- (de)serialization --------------------------------------------------------------------


def _serialize(values: dict[str, Any]) -> dict[str, Any]:
    """Python values as DynamoDB attribute values (floats as Decimal, which boto3 wants)."""
    return {name: _serializer.serialize(_decimals(value)) for name, value in values.items()}


def _serialize_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item without its None attributes: absent is how a record stores None."""
    return _serialize({name: value for name, value in item.items() if value is not None})


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, list | tuple):
        return [_decimals(v) for v in value]
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    return value


def _deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}


def _plain(value: Any) -> Any:
    """Decimals back to int or float, inside lists and maps too."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _record(cls: type[R], item: dict[str, Any]) -> R:
    """A record from an item: its fields (absent ones None), not the keys around them."""
    values: dict[str, Any] = {f.name: item.get(f.name) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.type in ("float", float) and values[f.name] is not None:
            values[f.name] = float(values[f.name])  # DynamoDB keeps 5.0 as 5
    return cls(**values)


def _epoch(timestamp: str, later: timedelta = timedelta(0)) -> int:
    """A TTL value: epoch seconds."""
    return int((parse_utc(timestamp) + later).timestamp())


def _unless_condition_fails(
    call: Callable[..., dict[str, Any]], **params: Any
) -> dict[str, Any] | None:
    """The call's response, or None when its ConditionExpression did not hold."""
    try:
        return call(**params)
    except ClientError as error:
        if _code(error) == "ConditionalCheckFailedException":
            return None
        raise


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))

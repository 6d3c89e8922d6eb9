"""Records <-> rows: the columns each record is stored in, and how its values are encoded.

Lists and dicts are JSON text in columns named <field>_json, booleans are 0/1. Each column
list here is in the order of the values its record's *_row function gives, so an INSERT
names the one and binds the other. Records whose columns are their fields as they are
(API keys, idempotency keys, webhooks and their attempts, tenants' limits) are read with
Record(**dict(row)).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from typing import Any

from imagegen.plan import stored_plan
from imagegen.records import Batch, Image, Job, TenantLimits, Webhook
from imagegen.storage.sqlite.schema import V3_IMAGE_COLUMNS

_JOB_FIELDS = (
    "job_id", "tenant_id", "user_id", "request_id", "kind", "request", "plan", "status",
    "status_message", "progress", "error", "image_ids", "cost", "created_at", "started_at",
    "completed_at", "priority", "retry_count", "webhook_url", "webhook_delivered", "batch_id",
    "queued_at", "run_id", "lease_expires_at", "recoveries", "reserved_credits",
)  # fmt: skip
# Fields kept as JSON text, in columns named <field>_json.
_JSON_FIELDS = frozenset({"request", "plan", "error", "image_ids", "cost"})
JOB_COLUMNS = ", ".join(f"{f}_json" if f in _JSON_FIELDS else f for f in _JOB_FIELDS)
# Every Image field, as columns (lists as JSON text in <field>_json).
IMAGE_COLUMNS = (
    V3_IMAGE_COLUMNS + ", categories_json, is_favorite, is_public, saved_at, expires_at, "
    "view_count, download_count"
)
BATCH_COLUMNS = (
    "batch_id, tenant_id, user_id, request_id, job_ids_json, status, created_at, completed_at, "
    "webhook_url, webhook_delivered"
)
WEBHOOK_COLUMNS = (
    "webhook_id, tenant_id, subject_id, event, url, created_at, status, attempts, "
    "next_attempt_at, body, delivered_at"
)

# A tenant's limits: its fields as they are, one column each.
TENANT_LIMITS_COLUMNS = ", ".join(f.name for f in dataclasses.fields(TenantLimits))


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


# --- jobs -------------------------------------------------------------------------------
# A whole Job is encoded and decoded here and nowhere else; its plan is written only when
# the job is created. (The repository's state changes set a few other fields in place.)


def job_row(job: Job) -> list[Any]:
    """The job's values, in JOB_COLUMNS' order."""
    values = []
    for name in _JOB_FIELDS:
        value = job.plan.to_dict() if name == "plan" else getattr(job, name)
        if name in _JSON_FIELDS:
            value = _dumps(value)
        elif isinstance(value, bool):
            value = int(value)
        values.append(value)
    return values


def job_from_row(row: sqlite3.Row) -> Job:
    """A job from a row selected as JOB_COLUMNS."""
    values: dict[str, Any] = {}
    for name in _JOB_FIELDS:
        if name in _JSON_FIELDS:
            raw = row[f"{name}_json"]
            values[name] = None if raw is None else json.loads(raw)
        else:
            values[name] = row[name]
    values["webhook_delivered"] = bool(values["webhook_delivered"])
    values["plan"] = stored_plan(values["plan"], values["request"])
    return Job(**values)


# --- the other records --------------------------------------------------------------------


def image_row(image: Image) -> tuple[Any, ...]:
    """The image's values, in IMAGE_COLUMNS' order."""
    return (
        image.image_id, image.tenant_id, image.user_id, image.job_id, image.model_id,
        image.original_prompt, image.revised_prompt, image.negative_prompt, image.width,
        image.height, image.format, image.size_bytes, image.quality, image.style, image.seed,
        image.blob_key, image.thumbnail_key, image.created_at, image.status, image.chat_id,
        json.dumps(image.user_tags), image.description, image.image_type,
        json.dumps(image.categories), int(image.is_favorite), int(image.is_public),
        image.saved_at, image.expires_at, image.view_count, image.download_count,
    )  # fmt: skip


def image_from_row(row: sqlite3.Row) -> Image:
    """An image from a row selected as IMAGE_COLUMNS."""
    values = dict(row)
    values["user_tags"] = json.loads(values.pop("user_tags_json"))
    values["categories"] = json.loads(values.pop("categories_json"))
    values["is_favorite"] = bool(values["is_favorite"])
    values["is_public"] = bool(values["is_public"])
    return Image(**values)


def batch_row(batch: Batch) -> tuple[Any, ...]:
    """The batch's values, in BATCH_COLUMNS' order."""
    return (
        batch.batch_id, batch.tenant_id, batch.user_id, batch.request_id,
        json.dumps(batch.job_ids), batch.status, batch.created_at, batch.completed_at,
        batch.webhook_url, int(batch.webhook_delivered),
    )  # fmt: skip


def batch_from_row(row: sqlite3.Row) -> Batch:
    """A batch from a row selected as BATCH_COLUMNS."""
    values = dict(row)
    values["job_ids"] = json.loads(values.pop("job_ids_json"))
    values["webhook_delivered"] = bool(values["webhook_delivered"])
    return Batch(**values)


def webhook_row(webhook: Webhook) -> tuple[Any, ...]:
    """The webhook's values, in WEBHOOK_COLUMNS' order; a new one is due at once."""
    return (
        webhook.webhook_id, webhook.tenant_id, webhook.subject_id, webhook.event, webhook.url,
        webhook.created_at, webhook.status, webhook.attempts,
        webhook.next_attempt_at or webhook.created_at, webhook.body, webhook.delivered_at,
    )  # fmt: skip


def tenant_limits_row(limits: TenantLimits) -> tuple[Any, ...]:
    """The limits' values, in TENANT_LIMITS_COLUMNS' order."""
    return dataclasses.astuple(limits)


def tenant_limits_from_row(row: sqlite3.Row) -> TenantLimits:
    """A tenant's limits from a row selected as TENANT_LIMITS_COLUMNS."""
    return TenantLimits(**dict(row))

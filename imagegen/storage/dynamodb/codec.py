"""Records <-> items: the attributes each record is stored as, with the keys around them.

An item is a record's fields (None ones are dropped when it is serialized: absent is how
None is stored) plus its `pk`/`sk` and the index keys of keys.py. Reading one back takes the
record's fields and leaves the keys. Writes that change a few attributes in place name them
themselves (repository.py); every whole record goes in and comes out through here.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, TypeVar

from imagegen.plan import stored_plan
from imagegen.records import (
    WEBHOOK_PENDING,
    ApiKey,
    Batch,
    IdempotencyKey,
    Image,
    Job,
    TenantLimits,
    Webhook,
    WebhookAttempt,
    search_text,
)
from imagegen.storage.dynamodb.keys import (
    DUE_IDEMPOTENCY,
    DUE_WEBHOOKS,
    epoch,
    expiry_keys,
    image_keys,
    job_state,
)

# A job's fields kept as JSON strings (the doc's item table).
_JOB_JSON_FIELDS = frozenset({"request", "plan", "error", "image_ids", "cost"})

R = TypeVar("R")


def _fields(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


def _item(values: dict[str, Any], **keys: Any) -> dict[str, Any]:
    return {**values, **keys}


def record_from_item(cls: type[R], item: dict[str, Any]) -> R:
    """A record from an item: its fields (absent ones None), not the keys around them."""
    values: dict[str, Any] = {f.name: item.get(f.name) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.type in ("float", float) and values[f.name] is not None:
            values[f.name] = float(values[f.name])  # DynamoDB keeps 5.0 as 5
    return cls(**values)


def api_key_item(key: ApiKey) -> dict[str, Any]:
    return _item(_fields(key), pk=f"key#{key.key_hash}", sk="key")


def tenant_limits_key(tenant_id: str) -> tuple[str, str]:
    """The pk and sk of a tenant's limits, beside its other `tenant#` items."""
    return (f"tenant#{tenant_id}", "limits")


def tenant_limits_item(limits: TenantLimits) -> dict[str, Any]:
    pk, sk = tenant_limits_key(limits.tenant_id)
    return _item(_fields(limits), pk=pk, sk=sk)


# --- jobs -------------------------------------------------------------------------------
# A whole Job is encoded and decoded here and nowhere else; its plan is written only when
# the job is created. (The repository's state changes set a few other fields in place.)


def job_item(job: Job) -> dict[str, Any]:
    values = {**_fields(job), "plan": job.plan.to_dict()}
    for name in _JOB_JSON_FIELDS:
        values[name] = None if values[name] is None else json.dumps(values[name])
    return _item(
        values,
        pk=f"job#{job.job_id}",
        sk="job",
        tenant_pk=f"{job.tenant_id}#jobs",
        created_sk=f"{job.created_at}#{job.job_id}",
        **job_state(
            job.tenant_id,
            job.job_id,
            job.status,
            queued_at=job.queued_at or job.created_at,
            lease_expires_at=job.lease_expires_at,
        ),
    )


def job_from_item(item: dict[str, Any]) -> Job:
    values: dict[str, Any] = {f.name: item.get(f.name) for f in dataclasses.fields(Job)}
    for name in _JOB_JSON_FIELDS:
        values[name] = None if values[name] is None else json.loads(values[name])
    values["image_ids"] = values["image_ids"] or []
    values["plan"] = stored_plan(values["plan"], values["request"])
    return Job(**values)


# --- the other records --------------------------------------------------------------------


def batch_item(batch: Batch) -> dict[str, Any]:
    return _item(_fields(batch), pk=f"batch#{batch.batch_id}", sk="batch")


def idempotency_item(binding: IdempotencyKey) -> dict[str, Any]:
    return _item(
        _fields(binding),
        pk=f"idem#{binding.tenant_id}#{binding.key}",
        sk="idem",
        due_pk=DUE_IDEMPOTENCY,
        due_sk=f"{binding.expires_at}#{binding.tenant_id}#{binding.key}",
        # The doc's `ttl` = expiry: an expired binding is void (find_idempotency_key and the
        # Put's condition check expires_at), so TTL may remove it as soon as it expires.
        ttl=epoch(binding.expires_at),
    )


def webhook_item(webhook: Webhook) -> dict[str, Any]:
    next_attempt_at = webhook.next_attempt_at or webhook.created_at
    waiting = webhook.status == WEBHOOK_PENDING
    return _item(
        {**_fields(webhook), "next_attempt_at": next_attempt_at},
        pk=f"webhook#{webhook.webhook_id}",
        sk="webhook",
        due_pk=DUE_WEBHOOKS if waiting else None,
        due_sk=f"{next_attempt_at}#{webhook.webhook_id}" if waiting else None,
    )


def attempt_item(attempt: WebhookAttempt) -> dict[str, Any]:
    """An attempt, in its subject's log partition, oldest first."""
    return _item(
        _fields(attempt),
        pk=f"attempts#{attempt.subject_id}",
        sk=f"{attempt.attempted_at}#{attempt.webhook_id}#{attempt.attempt:04d}",
    )


def image_item(image: Image) -> dict[str, Any]:
    return _item(
        _fields(image),
        pk=f"image#{image.image_id}",
        sk="image",
        search_text=search_text(image),
        **image_keys(image),
        **expiry_keys(image),
    )


def image_from_item(item: dict[str, Any]) -> Image:
    image = record_from_item(Image, item)
    image.user_tags = list(image.user_tags or [])
    image.categories = list(image.categories or [])
    return image

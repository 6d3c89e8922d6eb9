"""Webhook events: the outbox rows written with a job's or batch's last state change, and the
bodies they are delivered with (seed 004's ImageGenerationWebhook, and our batch event).

The body is built when the event is first sent (so its image URLs are fresh) and kept for
every retry; its `signature` field is added by imagegen.webhooks.signing.encode_event.
"""

from __future__ import annotations

import uuid
from typing import Any

from imagegen.records import (
    BATCH_COMPLETED_EVENT,
    COMPLETED,
    FAILED,
    JOB_COMPLETED_EVENT,
    JOB_FAILED_EVENT,
    Batch,
    Job,
    Webhook,
    utc_now,
)
from imagegen.serializers import batch_counts, image_data
from imagegen.storage.blobs import BlobStore
from imagegen.storage.repository import Repository

_JOB_EVENTS = {COMPLETED: JOB_COMPLETED_EVENT, FAILED: JOB_FAILED_EVENT}


def job_webhook(job: Job, status: str, now: str) -> Webhook | None:
    """The event for a job that reached `status`, when it asked for one.

    Cancelled jobs send none: the seed defines completion and failure events only, and a
    cancel is the client's own act.
    """
    event = _JOB_EVENTS.get(status)
    if job.webhook_url is None or event is None:
        return None
    return _webhook(job.tenant_id, job.job_id, event, job.webhook_url, now)


def batch_webhook(batch: Batch, now: str) -> Webhook | None:
    if batch.webhook_url is None:
        return None
    return _webhook(batch.tenant_id, batch.batch_id, BATCH_COMPLETED_EVENT, batch.webhook_url, now)


def _webhook(tenant_id: str, subject_id: str, event: str, url: str, now: str) -> Webhook:
    return Webhook(
        webhook_id="msg_" + uuid.uuid4().hex,
        tenant_id=tenant_id,
        subject_id=subject_id,
        event=event,
        url=url,
        created_at=now,
        next_attempt_at=now,
    )


def event_payload(webhook: Webhook, repository: Repository, blobs: BlobStore) -> dict[str, Any]:
    """The body of a webhook, from the current record of its job or batch."""
    if webhook.event == BATCH_COMPLETED_EVENT:
        batch = repository.get_batch(webhook.tenant_id, webhook.subject_id)
        if batch is None:
            raise LookupError(f"no batch {webhook.subject_id}")
        states = repository.batch_job_states(batch.batch_id)
        data: dict[str, Any] = {
            "batch_id": batch.batch_id,
            "request_id": batch.request_id,
            "user_id": batch.user_id,
            "tenant_id": batch.tenant_id,
            "status": batch.status,
            "counts": batch_counts(states),
            "job_ids": batch.job_ids,
        }
        timestamp = batch.completed_at
    else:
        job = repository.get_job(webhook.tenant_id, webhook.subject_id)
        if job is None:
            raise LookupError(f"no job {webhook.subject_id}")
        data = {
            "job_id": job.job_id,
            "request_id": job.request_id,
            "user_id": job.user_id,
            "tenant_id": job.tenant_id,
            "status": job.status,
        }
        if job.batch_id is not None:
            data["batch_id"] = job.batch_id
        if webhook.event == JOB_COMPLETED_EVENT:
            images = repository.get_images(job.tenant_id, job.image_ids)
            data["images"] = [image_data(image, blobs) for image in images]
            data["cost"] = job.cost
        elif job.error is not None:
            data["error"] = job.error
        timestamp = job.completed_at
    return {"event": webhook.event, "timestamp": timestamp or utc_now(), "data": data}


def finish_batch_if_done(repository: Repository, job: Job) -> bool:
    """After a job of a batch finished: complete the batch when it was the last one.

    The conditional write lets exactly one of several jobs finishing at once do it.
    """
    if job.batch_id is None:
        return False
    batch = repository.get_batch(job.tenant_id, job.batch_id)
    if batch is None or batch.status == COMPLETED:
        return False
    now = utc_now()
    return repository.finish_batch_if_done(batch.batch_id, now, batch_webhook(batch, now))

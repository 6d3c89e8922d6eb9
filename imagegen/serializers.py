"""Turns records into the response shapes of seed 004 (with signed URLs made fresh)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from imagegen.records import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    PROCESSING,
    SAVED,
    Batch,
    Image,
    ImageSummary,
    Job,
    WebhookAttempt,
    parse_utc,
)
from imagegen.storage.blobs import BlobStore


def image_data(image: Image, blobs: BlobStore) -> dict[str, Any]:
    """GeneratedImageData."""
    return {
        "image_id": image.image_id,
        "url": blobs.signed_url(image.blob_key),
        "thumbnail_url": blobs.signed_url(image.thumbnail_key) if image.thumbnail_key else None,
        "revised_prompt": image.revised_prompt,
        "image_type": image.image_type,
        "metadata": {
            "width": image.width,
            "height": image.height,
            "format": image.format,
            "size_bytes": image.size_bytes,
            "model": image.model_id,
            "seed": image.seed,
        },
    }


def generated_image(image: Image, blobs: BlobStore, public_base_url: str) -> dict[str, Any]:
    """GeneratedImage: an image of the library with fresh signed URLs.

    A saved image also has a permanent_url: the API's content route, a link that stays the
    same and redirects (with the API key) to a freshly signed URL each time.
    """
    data = image_data(image, blobs)
    data["metadata"].update(quality=image.quality, style=image.style)
    return {
        **data,
        "user_id": image.user_id,
        "tenant_id": image.tenant_id,
        "job_id": image.job_id,
        "chat_id": image.chat_id,
        "permanent_url": (
            f"{public_base_url}/v1/images/{image.image_id}/content"
            if image.status == SAVED
            else None
        ),
        "original_prompt": image.original_prompt,
        "negative_prompt": image.negative_prompt,
        # A description cleared by PATCH is stored empty.
        "description": image.description or None,
        "user_tags": image.user_tags,
        "categories": image.categories,
        "status": image.status,
        "is_favorite": image.is_favorite,
        "is_public": image.is_public,
        "created_at": image.created_at,
        "saved_at": image.saved_at,
        "expires_at": image.expires_at,
        "view_count": image.view_count,
        "download_count": image.download_count,
    }


def library_summary(summary: ImageSummary) -> dict[str, int]:
    """GetImagesResponse.summary: the tenant's whole library, deleted images excluded."""
    return asdict(summary)


def upload_data(image: Image, blobs: BlobStore) -> dict[str, Any]:
    """An uploaded input image, as POST /v1/uploads answers."""
    return {
        "image_id": image.image_id,
        "image_type": image.image_type,
        "url": blobs.signed_url(image.blob_key),
        "thumbnail_url": blobs.signed_url(image.thumbnail_key) if image.thumbnail_key else None,
        "created_at": image.created_at,
        "metadata": {
            "width": image.width,
            "height": image.height,
            "format": image.format,
            "size_bytes": image.size_bytes,
        },
    }


def status_detail(
    job: Job, now: datetime | None = None, quota_wait: dict[str, Any] | None = None
) -> dict[str, Any]:
    """ImageGenerationStatusDetail; quota_wait: where the job waits for its model's quota
    (quota.ProviderBudget.place), when it is parked."""
    detail: dict[str, Any] = {
        "status": job.status,
        "message": job.status_message or job.status,
        "progress": job.progress,
    }
    estimate = estimated_seconds_left(job, now or datetime.now(UTC))
    if estimate is not None:
        detail["estimated_time"] = estimate
    if quota_wait is not None and job.status == PENDING:
        detail["quota_wait"] = quota_wait
        if quota_wait["estimated_wait_seconds"] is not None:
            detail["estimated_time"] = quota_wait["estimated_wait_seconds"]
    if job.error is not None and job.status == FAILED:
        detail["error"] = job.error
    return detail


def estimated_seconds_left(job: Job, now: datetime) -> int | None:
    """For a running job with images done: the time per image so far, times those left.

    Before the first image there is nothing to go on, so nothing is promised.
    """
    if job.status != PROCESSING or not job.started_at or not 0 < job.progress < 100:
        return None
    elapsed = (now - parse_utc(job.started_at)).total_seconds()
    return max(1, round(elapsed * (100 - job.progress) / job.progress))


# The plan's values a job's history shows: what the request resolved to on its model (the
# real size, the seed a request without one was given, the preset a style chose).
_PLAN_PARAMETERS = (
    "width", "height", "n", "seed", "quality", "style", "style_preset", "cfg_scale", "steps",
    "negative_prompt", "image_strength", "similarity_strength", "outpaint_mode", "mask_prompt",
)  # fmt: skip


def job_body(
    job: Job, images: list[Image], blobs: BlobStore, quota_wait: dict[str, Any] | None = None
) -> dict[str, Any]:
    """ImageGenerationJob: who asked for what (the request as sent), on which model and task,
    with which parameters once resolved."""
    body: dict[str, Any] = {
        "job_id": job.job_id,
        "user_id": job.user_id,
        "tenant_id": job.tenant_id,
        "request": job.request,
        "request_id": job.request_id,
        "model": job.plan.model_id,
        "task": job.kind,
        "parameters": {name: getattr(job.plan, name) for name in _PLAN_PARAMETERS},
        "status": status_detail(job, quota_wait=quota_wait),
        "created_at": job.created_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "priority": job.priority,
        "retry_count": job.retry_count,
        "webhook_delivered": job.webhook_delivered,
    }
    if images:
        body["result"] = {
            "images": [image_data(image, blobs) for image in images],
            "cost": job.cost,
        }
    return body


def get_job_response(
    job: Job, images: list[Image], blobs: BlobStore, quota_wait: dict[str, Any] | None = None
) -> dict[str, Any]:
    """GetImageJobResponse: the flags say what POST .../cancel and .../retry would do now."""
    return {
        "job": job_body(job, images, blobs, quota_wait),
        "can_retry": job.status == FAILED,
        "can_cancel": job.status in (PENDING, PROCESSING),
    }


def batch_counts(states: dict[str, str]) -> dict[str, int]:
    counts = dict.fromkeys((PENDING, PROCESSING, COMPLETED, FAILED, CANCELLED), 0)
    for status in states.values():
        counts[status] += 1
    return counts


def batch_body(batch: Batch, states: dict[str, str]) -> dict[str, Any]:
    """A batch with its jobs' counts per status; its status is derived from theirs until all
    have finished (pending: none started; processing: some started or finished)."""
    counts = batch_counts(states)
    if batch.status == COMPLETED:
        status = COMPLETED
    elif counts[PENDING] == len(states):
        status = PENDING
    else:
        status = PROCESSING
    return {
        "batch_id": batch.batch_id,
        "status": status,
        "request_id": batch.request_id,
        "user_id": batch.user_id,
        "tenant_id": batch.tenant_id,
        "created_at": batch.created_at,
        "completed_at": batch.completed_at,
        "total": len(batch.job_ids),
        "counts": counts,
        "job_ids": batch.job_ids,
        "webhook_delivered": batch.webhook_delivered,
    }


def webhook_deliveries(attempts: list[WebhookAttempt]) -> dict[str, Any]:
    """Every delivery attempt of a job's or batch's webhooks, oldest first."""
    return {
        "deliveries": [
            {
                "webhook_id": attempt.webhook_id,
                "event": attempt.event,
                "attempt": attempt.attempt,
                "attempted_at": attempt.attempted_at,
                "status_code": attempt.status_code,
                "error": attempt.error,
                "duration_ms": attempt.duration_ms,
                "delivered": attempt.status_code is not None and 200 <= attempt.status_code < 300,
            }
            for attempt in attempts
        ]
    }

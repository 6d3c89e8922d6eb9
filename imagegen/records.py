"""The records the service keeps: API keys, jobs and images. Plain data, no storage logic."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PENDING = "pending"
PROCESSING = "processing"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"

# What made an image: a text-to-image job, an edit job, or a user's upload.
GENERATED = "generated"
EDITED = "edited"
UPLOADED = "uploaded"


def utc_now() -> str:
    """UTC ISO 8601 with millisecond precision and a Z, the format of every timestamp we emit."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class ApiKey:
    key_hash: str
    key_prefix: str
    tenant_id: str
    user_id: str
    name: str
    created_at: str


@dataclass
class Job:
    job_id: str
    tenant_id: str
    user_id: str
    request_id: str
    kind: str
    request: dict[str, Any]
    plan: dict[str, Any]
    status: str
    created_at: str
    status_message: str | None = None
    progress: int = 0
    error: dict[str, Any] | None = None
    image_ids: list[str] = field(default_factory=list)
    cost: dict[str, float] | None = None
    started_at: str | None = None
    completed_at: str | None = None
    priority: int = 5
    retry_count: int = 0
    webhook_url: str | None = None
    webhook_delivered: bool = False


@dataclass
class Image:
    image_id: str
    tenant_id: str
    user_id: str
    job_id: str | None
    model_id: str | None  # None for uploads, as are the prompts, quality and style
    original_prompt: str | None
    revised_prompt: str | None
    negative_prompt: str | None
    width: int
    height: int
    format: str
    size_bytes: int
    quality: str | None
    style: str | None
    seed: int | None
    blob_key: str
    thumbnail_key: str | None
    created_at: str
    status: str = "temporary"
    chat_id: str | None = None
    user_tags: list[str] = field(default_factory=list)
    description: str | None = None
    image_type: str = GENERATED

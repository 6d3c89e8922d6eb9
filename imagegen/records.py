"""The records the service keeps: API keys, jobs, images and tenants' limits. Plain data, no
storage logic."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from imagegen.plan import GenerationPlan

PENDING = "pending"
PROCESSING = "processing"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
JOB_STATES = (PENDING, PROCESSING, COMPLETED, FAILED, CANCELLED)
FINISHED_STATES = frozenset({COMPLETED, FAILED, CANCELLED})

# Priority 1 (lowest) to 10 (highest); each has its own queue.
MIN_PRIORITY = 1
MAX_PRIORITY = 10
DEFAULT_PRIORITY = 5

# What made an image: a text-to-image job, an edit job, or a user's upload.
GENERATED = "generated"
EDITED = "edited"
UPLOADED = "uploaded"
IMAGE_TYPES = (GENERATED, EDITED, UPLOADED)

# An image is temporary until its owner saves it; both kinds expire (see library.py). A
# deleted image keeps a tombstone record until its expiry, so nothing can bring it back.
TEMPORARY = "temporary"
SAVED = "saved"
DELETED = "deleted"
LIBRARY_STATUSES = (TEMPORARY, SAVED)
# The orders the library can be listed in.
IMAGE_SORTS = ("created_at", "saved_at", "view_count", "size_bytes")


def utc_now() -> str:
    """UTC ISO 8601 with millisecond precision and a Z, the format of every timestamp we emit."""
    return utc_timestamp(datetime.now(UTC))


def utc_timestamp(moment: datetime) -> str:
    """The same format for any moment; such strings sort in time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def utc_in(seconds: float) -> str:
    return utc_timestamp(datetime.now(UTC) + timedelta(seconds=seconds))


def parse_utc(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


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
    request: dict[str, Any]  # as the client sent it, for the job's record
    plan: GenerationPlan  # what the worker runs
    status: str
    created_at: str
    status_message: str | None = None
    progress: int = 0
    error: dict[str, Any] | None = None
    image_ids: list[str] = field(default_factory=list)
    cost: dict[str, float] | None = None
    started_at: str | None = None
    completed_at: str | None = None
    priority: int = DEFAULT_PRIORITY
    retry_count: int = 0
    webhook_url: str | None = None
    webhook_delivered: bool = False
    batch_id: str | None = None
    # When the job last went onto the queue: the sweeper leaves younger pending jobs alone.
    queued_at: str | None = None
    # The running attempt: its id fences every write, and a lease it keeps renewing tells
    # the sweeper that its worker is alive.
    run_id: str | None = None
    lease_expires_at: str | None = None
    # Times the job was taken back from a worker that died or shut down while running it.
    recoveries: int = 0
    # The credits (in CREDIT_UNITS) the job holds from its tenant's balance while it is
    # pending or processing; None when the tenant's credits are not metered. Its price, so
    # the same for every attempt: the move out of pending/processing settles the hold.
    reserved_credits: int | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATES


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
    status: str = TEMPORARY
    chat_id: str | None = None
    user_tags: list[str] = field(default_factory=list)
    description: str | None = None
    image_type: str = GENERATED
    categories: list[str] = field(default_factory=list)
    is_favorite: bool = False
    is_public: bool = False  # a stored flag: nothing is served without authentication
    saved_at: str | None = None
    expires_at: str | None = None  # None: kept until deleted
    view_count: int = 0
    download_count: int = 0

    @property
    def file_keys(self) -> list[str]:
        """The blob keys of the image's files: the original, and its thumbnail if any."""
        return [key for key in (self.blob_key, self.thumbnail_key) if key]


def image_sort_key(image: Image, sort: str) -> str:
    """The image's place in a listing ordered by `sort`: unique, and ordered as strings.

    Both repositories order by this key and page cursors carry it, so a page ends at the
    same image whichever backend serves it. Counts are zero-padded; a missing saved_at
    sorts before every date.
    """
    if sort == "created_at":
        value = image.created_at
    elif sort == "saved_at":
        value = image.saved_at or ""
    elif sort == "view_count":
        value = f"{image.view_count:012d}"
    elif sort == "size_bytes":
        value = f"{image.size_bytes:012d}"
    else:
        raise ValueError(f"unknown sort {sort!r}")
    return f"{value}#{image.image_id}"


def search_text(image: Image) -> str:
    """What a library search matches: the prompts and description, case-folded."""
    parts = (image.original_prompt, image.revised_prompt, image.description)
    return "\n".join(part for part in parts if part).casefold()


@dataclass(frozen=True)
class ImageQuery:
    """A library listing: every filter is optional; lists match any of their values."""

    statuses: tuple[str, ...] = LIBRARY_STATUSES
    chat_id: str | None = None
    tags: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    is_favorite: bool | None = None
    image_type: str | None = None
    search: str | None = None  # a case-insensitive substring of search_text()
    created_from: str | None = None  # inclusive
    created_to: str | None = None  # inclusive
    sort: str = "created_at"
    descending: bool = True

    @property
    def counted(self) -> bool:
        """Whether the total follows from the counters alone (no per-item filter)."""
        return (
            self.chat_id is None
            and not self.tags
            and not self.categories
            and self.image_type is None
            and not self.search
            and self.created_from is None
            and self.created_to is None
        )


@dataclass(frozen=True)
class ImagePage:
    images: list[Image]
    total: int  # images matching the query, on every page
    # The sort key of the page's last image when more follow: the next page's `after`.
    next_after: str | None


@dataclass(frozen=True)
class ImageSummary:
    """A tenant's library (deleted images excluded), kept as counters, never summed."""

    total_images: int = 0
    saved_images: int = 0
    temporary_images: int = 0
    total_size_bytes: int = 0
    favorite_count: int = 0


@dataclass(frozen=True)
class ImageChanges:
    """A PATCH: None leaves a field as it is. Saving sets saved_at and the new expiry."""

    user_tags: list[str] | None = None
    categories: list[str] | None = None
    description: str | None = None
    is_favorite: bool | None = None
    is_public: bool | None = None
    save: bool = False
    saved_at: str | None = None
    saved_expires_at: str | None = None  # the expiry a saved image gets (None: never)

    def applied_to(self, image: Image) -> Image:
        """The image as this PATCH leaves it; saving only moves a temporary image."""
        updated = replace(
            image,
            user_tags=list(self.user_tags) if self.user_tags is not None else image.user_tags,
            categories=list(self.categories) if self.categories is not None else image.categories,
            description=self.description if self.description is not None else image.description,
            is_favorite=self.is_favorite if self.is_favorite is not None else image.is_favorite,
            is_public=self.is_public if self.is_public is not None else image.is_public,
        )
        if self.save and image.status == TEMPORARY:
            updated = replace(
                updated, status=SAVED, saved_at=self.saved_at, expires_at=self.saved_expires_at
            )
        return updated


@dataclass
class Batch:
    """A group of jobs submitted together; done when every one of them has finished."""

    batch_id: str
    tenant_id: str
    user_id: str
    request_id: str
    job_ids: list[str]
    status: str  # pending until every job finished, then completed
    created_at: str
    completed_at: str | None = None
    webhook_url: str | None = None
    webhook_delivered: bool = False


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's Idempotency-Key bound to the request it came with and what that created."""

    tenant_id: str
    key: str
    request_hash: str
    resource_id: str  # a job id or a batch id
    created_at: str
    expires_at: str


@dataclass(frozen=True)
class IdempotencyClaim:
    """A request's Idempotency-Key and fingerprint, before it is bound to what it creates."""

    key: str
    request_hash: str
    claimed_at: datetime

    def bind(self, tenant_id: str, resource_id: str, ttl_seconds: float) -> IdempotencyKey:
        return IdempotencyKey(
            tenant_id=tenant_id,
            key=self.key,
            request_hash=self.request_hash,
            resource_id=resource_id,
            created_at=utc_timestamp(self.claimed_at),
            expires_at=utc_timestamp(self.claimed_at + timedelta(seconds=ttl_seconds)),
        )


@dataclass(frozen=True)
class TenantLimits:
    """An operator's limits for one tenant. None: the default setting applies
    (IMAGEGEN_DEFAULT_REQUESTS_PER_MINUTE and the like); 0: unlimited for this tenant,
    whatever the default."""

    tenant_id: str
    requests_per_minute: int | None = None
    images_per_minute: int | None = None
    storage_bytes: int | None = None
    max_concurrent_jobs: int | None = None
    updated_at: str | None = None


# Credits are kept as whole hundredths (CREDIT_UNITS a credit), the precision prices have
# (a credit is a US cent: plan.CREDITS_PER_USD), so balances never drift in floating point.
CREDIT_UNITS = 100


def credit_units(credits: float) -> int:
    return round(credits * CREDIT_UNITS)


def in_credits(units: int) -> float:
    return units / CREDIT_UNITS


# Ledger entry kinds
GRANT = "grant"
RESERVATION = "reservation"
CHARGE = "charge"
REFUND = "refund"


@dataclass(frozen=True)
class CreditAccount:
    """A tenant's credits: `balance` is what it may still spend; `reserved` what its pending
    and running jobs hold, to be charged or given back. Both in CREDIT_UNITS."""

    tenant_id: str
    balance: int
    reserved: int
    updated_at: str


@dataclass(frozen=True)
class LedgerEntry:
    """One append-only change to a tenant's credits, in CREDIT_UNITS: `amount` moved from
    the balance to the reservations (reservation) or back (refund), left the reservations
    for good (charge), or came in (grant; an operator's correction that lowers the balance
    is a grant with a negative amount). A job's entries carry its id and attempt (its retry
    count) and their ids follow from them, so no entry is ever written twice."""

    tenant_id: str
    entry_id: str
    kind: str
    amount: int
    created_at: str
    job_id: str | None = None
    attempt: int | None = None
    # A batch reserves its jobs' prices in one entry (and settles each job on its own).
    batch_id: str | None = None
    note: str | None = None


def grant_entry(tenant_id: str, amount: int, at: str, note: str) -> LedgerEntry:
    return LedgerEntry(
        tenant_id=tenant_id,
        entry_id=f"grant.{uuid.uuid4().hex}",
        kind=GRANT,
        amount=amount,
        created_at=at,
        note=note,
    )


def reservation_entry(
    tenant_id: str,
    amount: int,
    at: str,
    *,
    job_id: str | None = None,
    attempt: int = 0,
    batch_id: str | None = None,
) -> LedgerEntry:
    """A job's (or, with batch_id, a whole batch's) reservation of its price."""
    subject = batch_id or job_id
    assert subject is not None
    return LedgerEntry(
        tenant_id=tenant_id,
        entry_id=job_entry_id(subject, attempt, RESERVATION),
        kind=RESERVATION,
        amount=amount,
        created_at=at,
        job_id=job_id,
        attempt=attempt,
        batch_id=batch_id,
    )


def settlement_entries(
    tenant_id: str,
    job_id: str,
    attempt: int,
    batch_id: str | None,
    held: int,
    charged: int,
    at: str,
) -> tuple[int, list[LedgerEntry]]:
    """The end of a job's hold of `held`: `charged` of it (at most all of it) is charged and
    the rest refunded. The refund, and the charge and refund entries (none for 0)."""
    charged = min(max(charged, 0), held)
    refund = held - charged
    entries = [
        LedgerEntry(
            tenant_id=tenant_id,
            entry_id=job_entry_id(job_id, attempt, kind),
            kind=kind,
            amount=amount,
            created_at=at,
            job_id=job_id,
            attempt=attempt,
            batch_id=batch_id,
        )
        for kind, amount in ((CHARGE, charged), (REFUND, refund))
        if amount
    ]
    return refund, entries


def job_entry_id(subject_id: str, attempt: int, kind: str) -> str:
    """A job's (or batch's) entry of a kind for an attempt: one such entry, ever."""
    return f"{subject_id}.{attempt}.{kind}"


# Webhook events
JOB_COMPLETED_EVENT = "image.generation.completed"
JOB_FAILED_EVENT = "image.generation.failed"
BATCH_COMPLETED_EVENT = "image.batch.completed"
# Webhook states
WEBHOOK_PENDING = "pending"
WEBHOOK_DELIVERED = "delivered"
WEBHOOK_FAILED = "failed"


@dataclass
class Webhook:
    """One event to deliver (an outbox row), written with the state change it reports.

    The body is built on the first attempt and kept, so every retry sends the same bytes
    under the same webhook id.
    """

    webhook_id: str
    tenant_id: str
    subject_id: str  # the job or batch the event is about
    event: str
    url: str
    created_at: str
    status: str = WEBHOOK_PENDING
    attempts: int = 0
    next_attempt_at: str | None = None
    body: str | None = None
    delivered_at: str | None = None


@dataclass(frozen=True)
class WebhookAttempt:
    """One delivery attempt, for the delivery log."""

    webhook_id: str
    subject_id: str
    tenant_id: str
    event: str
    attempt: int
    attempted_at: str
    status_code: int | None
    error: str | None
    duration_ms: float

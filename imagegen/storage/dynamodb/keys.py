"""The table's keys: each item's `pk`/`sk`, and the index keys that follow from a record's state.

The global secondary indexes are sparse: an item is in an index only while it carries that
index's key attributes, so these functions give a key None (an absent attribute) to take an
item out of an index. Their names and layout are docs/data-model.md's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from imagegen.records import DELETED, PENDING, PROCESSING, Image, image_sort_key, parse_utc

# The index a listing reads, by its sort, and the attribute that index sorts by.
LISTING_INDEXES = {
    "created_at": ("by_tenant_status", "created_sk"),
    "saved_at": ("images_by_saved", "saved_sk"),
    "view_count": ("images_by_views", "views_sk"),
    "size_bytes": ("images_by_size", "size_sk"),
}
# Every attribute that puts an image in the library's indexes; a deleted image loses them.
IMAGE_INDEX_KEYS = ("tenant_status_pk", *(sk for _, sk in LISTING_INDEXES.values()))
# The partitions of the `due` index.
DUE_PENDING_JOBS = "pending-jobs"
DUE_LEASES = "leases"
DUE_WEBHOOKS = "webhooks"
DUE_IMAGES = "expiring-images"
DUE_IDEMPOTENCY = "idempotency-keys"
# Timestamps have one fixed width, and every sort key is "<timestamp>#<id>": "$" is the
# character after "#", so "<t>$" is above every key of instant t and below every later one.
AFTER_INSTANT = "$"
# DynamoDB TTL deletes a record a day after its expiry: a backstop for a sweeper that did not
# run, late enough that a running sweeper always gets there first (and moves the counters).
_TTL_GRACE = timedelta(days=1)


def primary_key(pk: str, sk: str) -> dict[str, Any]:
    """An item's primary key, as the client's Key parameter."""
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def library_partition(tenant_id: str, status: str) -> tuple[str, str]:
    """The partition of the tenant's images of that status, in every library index."""
    return ("tenant_status_pk", f"{tenant_id}#images#{status}")


def job_state(
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
        due = (DUE_PENDING_JOBS, f"{queued_at}#{job_id}")
    elif status == PROCESSING and lease_expires_at is not None:
        due = (DUE_LEASES, f"{lease_expires_at}#{job_id}")
    return {
        "status": status,
        "tenant_status_pk": f"{tenant_id}#jobs#{status}",
        "status_pk": f"jobs#{status}",
        "due_pk": due[0],
        "due_sk": due[1],
    }


def image_keys(image: Image) -> dict[str, Any]:
    """The image's keys in the library's indexes (all None, so removed, once deleted)."""
    if image.status == DELETED:
        return dict.fromkeys(IMAGE_INDEX_KEYS)
    keys: dict[str, Any] = {"tenant_status_pk": f"{image.tenant_id}#images#{image.status}"}
    for sort, (_, attr) in LISTING_INDEXES.items():
        keys[attr] = image_sort_key(image, sort)
    return keys


def expiry_keys(image: Image) -> dict[str, Any]:
    """The image's place in `due` and its TTL, while it has an expiry."""
    if image.expires_at is None:
        return {"due_pk": None, "due_sk": None, "ttl": None}
    return {
        "due_pk": DUE_IMAGES,
        "due_sk": f"{image.expires_at}#{image.image_id}",
        "ttl": epoch(image.expires_at, _TTL_GRACE),
    }


def epoch(timestamp: str, later: timedelta = timedelta(0)) -> int:
    """A TTL value: epoch seconds."""
    return int((parse_utc(timestamp) + later).timestamp())

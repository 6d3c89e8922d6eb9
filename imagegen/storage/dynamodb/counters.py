"""The image library's counters: one item per tenant, moved with every image change.

The item holds count_/bytes_/favorites_<status> for each library status; every write that
adds, changes or removes an image ADDs the difference in the same transaction, so the
summary (and an unfiltered listing's total) is one GetItem, never a count of the images.
"""

from __future__ import annotations

from typing import Any

from imagegen.records import LIBRARY_STATUSES, SAVED, TEMPORARY, Image, ImageSummary
from imagegen.storage.dynamodb.expressions import Update
from imagegen.storage.dynamodb.keys import primary_key


def counters_key(tenant_id: str) -> tuple[str, str]:
    return f"tenant#{tenant_id}", "image-counters"


def counter_names() -> list[str]:
    return [f"{kind}_{s}" for s in LIBRARY_STATUSES for kind in ("count", "bytes", "favorites")]


def contribution(status: str, size_bytes: int, is_favorite: bool) -> dict[str, int]:
    """What one image of that status adds to the counters (a tombstone: nothing)."""
    if status not in LIBRARY_STATUSES:
        return {}
    return {
        f"count_{status}": 1,
        f"bytes_{status}": int(size_bytes),
        f"favorites_{status}": int(bool(is_favorite)),
    }


def counter_writes(table: str, images: list[Image], signs: list[int]) -> list[dict[str, Any]]:
    """The counters' Update (a transaction item) for images counted in (+1) or out (-1), if
    anything moves."""
    delta: dict[str, int] = {}
    for image, sign in zip(images, signs, strict=True):
        for name, value in contribution(image.status, image.size_bytes, image.is_favorite).items():
            delta[name] = delta.get(name, 0) + sign * value
    delta = {name: value for name, value in delta.items() if value}
    if not delta:
        return []
    tenant_id = images[0].tenant_id
    update = Update(primary_key(*counters_key(tenant_id)), {"tenant_id": tenant_id}, add=delta)
    return [update.transact(table)]


def counters_item(tenant_id: str, counters: dict[str, int]) -> dict[str, Any]:
    """The counters as recounted, a whole item."""
    pk, sk = counters_key(tenant_id)
    return {**counters, "pk": pk, "sk": sk, "tenant_id": tenant_id}


def summary(counters: dict[str, int]) -> ImageSummary:
    def get(kind: str, status: str) -> int:
        return counters.get(f"{kind}_{status}", 0)

    return ImageSummary(
        total_images=get("count", TEMPORARY) + get("count", SAVED),
        saved_images=get("count", SAVED),
        temporary_images=get("count", TEMPORARY),
        total_size_bytes=get("bytes", TEMPORARY) + get("bytes", SAVED),
        favorite_count=get("favorites", TEMPORARY) + get("favorites", SAVED),
    )


def counted_total(counters: dict[str, int], statuses: list[str], favorite: bool | None) -> int:
    """The total of a listing filtered by status and is_favorite only, from the counters."""
    total = 0
    for status in statuses:
        count = counters.get(f"count_{status}", 0)
        favorites = counters.get(f"favorites_{status}", 0)
        total += count if favorite is None else favorites if favorite else count - favorites
    return total

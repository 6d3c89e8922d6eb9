"""The image library's counters: one row per tenant and library status.

Every image change moves them in its own transaction (count_image, with -1 for the state it
leaves and +1 for the one it enters), so the summary and an unfiltered listing's total are
read, never summed; recount rebuilds a tenant's from its images.
"""

from __future__ import annotations

import sqlite3

from imagegen.records import LIBRARY_STATUSES, SAVED, TEMPORARY, Image, ImageQuery, ImageSummary


def count_image(db: sqlite3.Connection, image: Image, sign: int) -> None:
    """Move the tenant's counters by one image of its status (in or out)."""
    if image.status not in LIBRARY_STATUSES:
        return
    db.execute(
        "INSERT INTO image_counters (tenant_id, status, count, bytes, favorites) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, status) DO UPDATE SET "
        "count = count + excluded.count, bytes = bytes + excluded.bytes, "
        "favorites = favorites + excluded.favorites",
        (
            image.tenant_id,
            image.status,
            sign,
            sign * image.size_bytes,
            sign * int(image.is_favorite),
        ),
    )


def recount(db: sqlite3.Connection, tenant_id: str) -> None:
    """Rebuild the tenant's counters from its images (tombstones are not counted)."""
    db.execute("DELETE FROM image_counters WHERE tenant_id = ?", (tenant_id,))
    db.execute(
        "INSERT INTO image_counters (tenant_id, status, count, bytes, favorites) "
        "SELECT tenant_id, status, COUNT(*), SUM(size_bytes), SUM(is_favorite) FROM images "
        f"WHERE tenant_id = ? AND status IN ({', '.join('?' * len(LIBRARY_STATUSES))}) "
        "GROUP BY tenant_id, status",
        (tenant_id, *LIBRARY_STATUSES),
    )


def _counters(db: sqlite3.Connection, tenant_id: str) -> dict[str, sqlite3.Row]:
    rows = db.execute(
        "SELECT status, count, bytes, favorites FROM image_counters WHERE tenant_id = ?",
        (tenant_id,),
    ).fetchall()
    return {row["status"]: row for row in rows}


def summary(db: sqlite3.Connection, tenant_id: str) -> ImageSummary:
    counters = _counters(db, tenant_id)

    def total(status: str, column: str) -> int:
        row = counters.get(status)
        return int(row[column]) if row is not None else 0

    return ImageSummary(
        total_images=total(TEMPORARY, "count") + total(SAVED, "count"),
        saved_images=total(SAVED, "count"),
        temporary_images=total(TEMPORARY, "count"),
        total_size_bytes=total(TEMPORARY, "bytes") + total(SAVED, "bytes"),
        favorite_count=total(TEMPORARY, "favorites") + total(SAVED, "favorites"),
    )


def counted_total(db: sqlite3.Connection, tenant_id: str, query: ImageQuery) -> int:
    """The total of a listing filtered by status and is_favorite only, from the counters."""
    counters = _counters(db, tenant_id)
    total = 0
    for status in set(query.statuses) & set(LIBRARY_STATUSES):
        row = counters.get(status)
        if row is None:
            continue
        if query.is_favorite is None:
            total += row["count"]
        elif query.is_favorite:
            total += row["favorites"]
        else:
            total += row["count"] - row["favorites"]
    return int(total)

"""Opening a database: the schema created, or an older one's brought up to date in place.

PRAGMA user_version says which schema a database has. Every step is idempotent (IF NOT
EXISTS, columns added only when missing), so opening a current database changes nothing,
and a step that must not be left half done runs in one transaction.
"""

from __future__ import annotations

import sqlite3

from imagegen.records import search_text
from imagegen.storage.sqlite.codec import IMAGE_COLUMNS, image_from_row
from imagegen.storage.sqlite.counters import recount
from imagegen.storage.sqlite.schema import (
    CREDITS_TABLES,
    IMAGE_COLUMNS_ADDED,
    IMAGE_COUNTERS_TABLE,
    IMAGE_INDEXES,
    IMAGES_TABLE,
    JOB_COLUMNS_ADDED,
    JOB_INDEXES,
    SCHEMA,
    TENANT_LIMITS_TABLE,
    V3_IMAGE_COLUMNS,
)

# PRAGMA user_version: 1 = images without image_type and with NOT NULL prompt columns
# (before uploads); 2 = jobs without batches, leases and recoveries; 3 = images without the
# library's fields, counters and expiry; 4 = no tenant limits; 5 = no credits; 6 = this schema.
SCHEMA_VERSION = 6


def migrate(db: sqlite3.Connection) -> None:
    """Create what is missing of the schema, keeping an older database's rows, and record
    SCHEMA_VERSION."""
    _rebuild_version_1_images(db)
    db.executescript(SCHEMA)
    _add_job_columns(db)
    db.executescript(JOB_INDEXES)
    _add_image_library(db)
    db.executescript(IMAGE_INDEXES)
    # Version 5: operators' limits per tenant, a new table (older databases have no rows).
    db.executescript(TENANT_LIMITS_TABLE)
    # Version 6: credits, new tables (and jobs' reserved_credits, NULL: not metered).
    db.executescript(CREDITS_TABLES)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _rebuild_version_1_images(db: sqlite3.Connection) -> None:
    """Bring the images table of a version 1 database up to date, keeping its rows."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    has_images = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'images'"
    ).fetchone()
    if version >= 2 or not has_images:
        return
    # SQLite cannot drop NOT NULL in place: rebuild the table, in one transaction.
    old_columns = V3_IMAGE_COLUMNS.removesuffix(", image_type")
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("ALTER TABLE images RENAME TO images_v1")
        db.execute("DROP INDEX IF EXISTS images_by_tenant")
        db.execute(IMAGES_TABLE)
        db.execute(
            f"INSERT INTO images ({old_columns}, image_type) "
            f"SELECT {old_columns}, 'generated' FROM images_v1"
        )
        db.execute("DROP TABLE images_v1")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _add_job_columns(db: sqlite3.Connection) -> None:
    """Columns jobs gained in version 3 are added to an older jobs table, keeping its rows."""
    present = {row["name"] for row in db.execute("PRAGMA table_info(jobs)")}
    for column, declaration in JOB_COLUMNS_ADDED.items():
        if column not in present:
            db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {declaration}")


def _add_image_library(db: sqlite3.Connection) -> None:
    """Version 4: the library's image columns and the counters, added to an older database in
    place and in one transaction (its rows stay, with no expiry); then every tenant's
    counters are counted from its images."""
    db.execute("BEGIN IMMEDIATE")
    try:
        present = {row["name"] for row in db.execute("PRAGMA table_info(images)")}
        for column, declaration in IMAGE_COLUMNS_ADDED.items():
            if column not in present:
                db.execute(f"ALTER TABLE images ADD COLUMN {column} {declaration}")
        if "search_text" not in present:
            rows = db.execute(f"SELECT {IMAGE_COLUMNS} FROM images").fetchall()
            db.executemany(
                "UPDATE images SET search_text = ? WHERE image_id = ?",
                [(search_text(image), image.image_id) for image in map(image_from_row, rows)],
            )
        has_counters = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'image_counters'"
        ).fetchone()
        db.execute(IMAGE_COUNTERS_TABLE)
        if not has_counters:
            tenants = db.execute("SELECT DISTINCT tenant_id FROM images").fetchall()
            for (tenant_id,) in tenants:
                recount(db, tenant_id)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise

"""The database's DDL: its tables and indexes, created if missing.

A fresh database gets SCHEMA, then the columns and indexes the tables gained since (the
same statements migrations.py adds to an older database in place), so that both end up
with one schema.
"""

from __future__ import annotations

IMAGES_TABLE = """
CREATE TABLE IF NOT EXISTS images (
    image_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    job_id TEXT,
    model_id TEXT,
    original_prompt TEXT,
    revised_prompt TEXT,
    negative_prompt TEXT,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    format TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    quality TEXT,
    style TEXT,
    seed INTEGER,
    blob_key TEXT NOT NULL,
    thumbnail_key TEXT,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    chat_id TEXT,
    user_tags_json TEXT NOT NULL DEFAULT '[]',
    description TEXT,
    image_type TEXT NOT NULL DEFAULT 'generated'
);
"""
SCHEMA = (
    IMAGES_TABLE
    + """
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    key_prefix TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    request_json TEXT NOT NULL,
    plan_json TEXT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT,
    progress INTEGER NOT NULL DEFAULT 0,
    error_json TEXT,
    image_ids_json TEXT NOT NULL DEFAULT '[]',
    cost_json TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    priority INTEGER NOT NULL DEFAULT 5,
    retry_count INTEGER NOT NULL DEFAULT 0,
    webhook_url TEXT,
    webhook_delivered INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_tenant ON jobs (tenant_id, created_at);
CREATE INDEX IF NOT EXISTS images_by_tenant ON images (tenant_id, created_at);
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    job_ids_json TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    completed_at TEXT,
    webhook_url TEXT,
    webhook_delivered INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE TABLE IF NOT EXISTS webhooks (
    webhook_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    event TEXT NOT NULL,
    url TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    body TEXT,
    delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS webhooks_due ON webhooks (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    webhook_id TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    event TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    attempted_at TEXT NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms REAL NOT NULL,
    PRIMARY KEY (webhook_id, attempt)
);
CREATE INDEX IF NOT EXISTS webhook_attempts_by_subject ON webhook_attempts (subject_id);
"""
)
# Columns jobs gained after the text-to-image release; added in place to older databases.
JOB_COLUMNS_ADDED = {
    "batch_id": "TEXT",
    "queued_at": "TEXT",
    "run_id": "TEXT",
    "lease_expires_at": "TEXT",
    "recoveries": "INTEGER NOT NULL DEFAULT 0",
    "reserved_credits": "INTEGER",
}
JOB_INDEXES = """
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, queued_at);
CREATE INDEX IF NOT EXISTS jobs_by_lease ON jobs (status, lease_expires_at);
CREATE INDEX IF NOT EXISTS jobs_by_batch ON jobs (batch_id);
CREATE INDEX IF NOT EXISTS jobs_by_user ON jobs (tenant_id, user_id, created_at);
"""

# Columns images gained with the image library (version 4); added in place to older
# databases, whose rows keep a NULL expiry (kept until deleted).
IMAGE_COLUMNS_ADDED = {
    "categories_json": "TEXT NOT NULL DEFAULT '[]'",
    "is_favorite": "INTEGER NOT NULL DEFAULT 0",
    "is_public": "INTEGER NOT NULL DEFAULT 0",
    "saved_at": "TEXT",
    "expires_at": "TEXT",
    "view_count": "INTEGER NOT NULL DEFAULT 0",
    "download_count": "INTEGER NOT NULL DEFAULT 0",
    # records.search_text(): the case-folded prompts and description a search matches.
    "search_text": "TEXT NOT NULL DEFAULT ''",
    "deleted_at": "TEXT",
}
# The library's counters: per tenant and status (temporary, saved), moved in the same
# transaction as every image change, so the summary is read, never summed.
IMAGE_COUNTERS_TABLE = """
CREATE TABLE IF NOT EXISTS image_counters (
    tenant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    favorites INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, status)
);
"""
# Each listing order as SQL: exactly the strings records.image_sort_key() builds, so that
# order, `after` and the cursors that carry it agree with the other backend.
SORT_KEYS = {
    "created_at": "(created_at || '#' || image_id)",
    "saved_at": "(COALESCE(saved_at, '') || '#' || image_id)",
    "view_count": "(printf('%012d', view_count) || '#' || image_id)",
    "size_bytes": "(printf('%012d', size_bytes) || '#' || image_id)",
}
IMAGE_INDEXES = (
    "\n".join(
        f"CREATE INDEX IF NOT EXISTS images_by_{sort} ON images (tenant_id, {expression});"
        for sort, expression in SORT_KEYS.items()
    )
    + """
CREATE INDEX IF NOT EXISTS images_by_expiry ON images (expires_at);
"""
)
# Operators' limits per tenant (version 5): a row per tenant an operator set limits for;
# NULL is "the default applies" (records.TenantLimits).
TENANT_LIMITS_TABLE = """
CREATE TABLE IF NOT EXISTS tenant_limits (
    tenant_id TEXT PRIMARY KEY,
    requests_per_minute INTEGER,
    images_per_minute INTEGER,
    storage_bytes INTEGER,
    max_concurrent_jobs INTEGER,
    updated_at TEXT
);
"""
# Tenants' credits (version 6): an account per metered tenant, and the append-only ledger
# of every change to it (records.CreditAccount, records.LedgerEntry).
CREDITS_TABLES = """
CREATE TABLE IF NOT EXISTS credit_accounts (
    tenant_id TEXT PRIMARY KEY,
    balance INTEGER NOT NULL,
    reserved INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS credit_ledger (
    entry_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    job_id TEXT,
    attempt INTEGER,
    batch_id TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS credit_ledger_by_tenant ON credit_ledger (tenant_id, created_at);
"""
# The images table's columns up to version 3, which the version 1 rebuild copies.
V3_IMAGE_COLUMNS = (
    "image_id, tenant_id, user_id, job_id, model_id, original_prompt, revised_prompt, "
    "negative_prompt, width, height, format, size_bytes, quality, style, seed, blob_key, "
    "thumbnail_key, created_at, status, chat_id, user_tags_json, description, image_type"
)

"""Tenants' credits in SQLite: the account's two counters and the ledger's entries, written
inside the caller's transaction, so a reservation or settlement is part of the job's own
state change and happens exactly when that change does."""

from __future__ import annotations

import dataclasses
import sqlite3

from imagegen.records import (
    CreditAccount,
    Job,
    LedgerEntry,
    reservation_entry,
    settlement_entries,
)
from imagegen.storage.repository import InsufficientCredits

LEDGER_COLUMNS = ", ".join(f.name for f in dataclasses.fields(LedgerEntry))
_LEDGER_INSERT = (
    f"INSERT INTO credit_ledger ({LEDGER_COLUMNS}) "
    f"VALUES ({', '.join('?' * (LEDGER_COLUMNS.count(',') + 1))})"
)


def account(db: sqlite3.Connection, tenant_id: str) -> CreditAccount | None:
    row = db.execute(
        "SELECT tenant_id, balance, reserved, updated_at FROM credit_accounts WHERE tenant_id = ?",
        (tenant_id,),
    ).fetchone()
    return CreditAccount(**dict(row)) if row else None


def open_account(db: sqlite3.Connection, tenant_id: str, at: str) -> CreditAccount:
    """The tenant's account, created empty when it has none."""
    db.execute(
        "INSERT OR IGNORE INTO credit_accounts VALUES (?, 0, 0, ?)",
        (tenant_id, at),
    )
    found = account(db, tenant_id)
    assert found is not None
    return found


def append(db: sqlite3.Connection, entry: LedgerEntry) -> None:
    db.execute(_LEDGER_INSERT, dataclasses.astuple(entry))


def move(db: sqlite3.Connection, tenant_id: str, balance: int, reserved: int, at: str) -> None:
    """Add to the account's balance and reservations (negative: take away)."""
    db.execute(
        "UPDATE credit_accounts SET balance = balance + ?, reserved = reserved + ?, "
        "updated_at = ? WHERE tenant_id = ?",
        (balance, reserved, at, tenant_id),
    )


def reserve(
    db: sqlite3.Connection,
    tenant_id: str,
    amount: int,
    at: str,
    *,
    job_id: str | None = None,
    attempt: int = 0,
    batch_id: str | None = None,
) -> None:
    """Move amount from the balance to the reservations, with its ledger entry; raises
    InsufficientCredits (the caller's transaction rolls back) when the balance is short."""
    held = account(db, tenant_id)
    if held is None or held.balance < amount:
        raise InsufficientCredits(held, amount)
    move(db, tenant_id, -amount, amount, at)
    append(
        db,
        reservation_entry(tenant_id, amount, at, job_id=job_id, attempt=attempt, batch_id=batch_id),
    )


def settle(db: sqlite3.Connection, job: Job, charged: int, at: str) -> None:
    """End the job's hold: charge `charged` of it (at most all of it) and refund the rest.
    Called inside the write that moves the job out of pending/processing."""
    held = job.reserved_credits
    if held is None:
        return
    refund, settled = settlement_entries(
        job.tenant_id, job.job_id, job.retry_count, job.batch_id, held, charged, at
    )
    move(db, job.tenant_id, refund, -held, at)
    for entry in settled:
        append(db, entry)


def entries(
    db: sqlite3.Connection, tenant_id: str, limit: int, job_id: str | None
) -> list[LedgerEntry]:
    where, params = "tenant_id = ?", [tenant_id]
    if job_id is not None:
        where += " AND job_id = ?"
        params.append(job_id)
    rows = db.execute(
        f"SELECT {LEDGER_COLUMNS} FROM credit_ledger WHERE {where} "
        "ORDER BY created_at DESC, rowid DESC LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [LedgerEntry(**dict(row)) for row in rows]

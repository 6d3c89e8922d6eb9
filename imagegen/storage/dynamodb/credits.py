"""Tenants' credits on DynamoDB: the account item and the ledger's items, as writes for the
transaction of the job state change they belong to (repository.py), so a reservation or a
settlement is written exactly when that change is.

The account (pk `tenant#<id>`, sk `credits`) keeps `balance` and `reserved`, changed by ADD
so concurrent jobs never lose each other's update; a reservation's condition
`balance >= :price` is what refuses a job its tenant cannot pay for. Each ledger entry is
its own item (pk `ledger#<tenant>`, sk `<created_at>#<entry_id>`), put only if new.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from imagegen.records import (
    CreditAccount,
    LedgerEntry,
    reservation_entry,
    settlement_entries,
)
from imagegen.storage.dynamodb.expressions import Update, put
from imagegen.storage.dynamodb.keys import primary_key


def account_key(tenant_id: str) -> tuple[str, str]:
    return (f"tenant#{tenant_id}", "credits")


def ledger_partition(tenant_id: str) -> tuple[str, str]:
    return ("pk", f"ledger#{tenant_id}")


def account_from_item(item: dict[str, Any]) -> CreditAccount:
    return CreditAccount(
        tenant_id=item["tenant_id"],
        balance=int(item["balance"]),
        reserved=int(item["reserved"]),
        updated_at=item["updated_at"],
    )


def entry_from_item(item: dict[str, Any]) -> LedgerEntry:
    values: dict[str, Any] = {f.name: item.get(f.name) for f in dataclasses.fields(LedgerEntry)}
    values["amount"] = int(values["amount"])
    if values["attempt"] is not None:
        values["attempt"] = int(values["attempt"])
    return LedgerEntry(**values)


def entry_put(table: str, entry: LedgerEntry) -> dict[str, Any]:
    fields = {f.name: getattr(entry, f.name) for f in dataclasses.fields(entry)}
    item = {
        **fields,
        "pk": ledger_partition(entry.tenant_id)[1],
        "sk": f"{entry.created_at}#{entry.entry_id}",
    }
    return put(table, item, new=True)


def new_account_put(table: str, tenant_id: str, at: str, balance: int) -> dict[str, Any]:
    """A new account with its opening balance, only if the tenant has none."""
    pk, sk = account_key(tenant_id)
    item = {"pk": pk, "sk": sk, "tenant_id": tenant_id, "balance": balance, "reserved": 0}
    return put(table, {**item, "updated_at": at}, new=True)


def account_change(
    tenant_id: str, balance: int, reserved: int, at: str, at_least: int | None = None
) -> Update:
    """Add to the balance and the reservations; with at_least, only while the balance is
    at least that (and the account exists)."""
    condition, values = "attribute_exists(pk)", {}
    if at_least is not None:
        condition, values = "balance >= :least", {":least": at_least}
    return Update(
        primary_key(*account_key(tenant_id)),
        {"updated_at": at},
        add={"balance": balance, "reserved": reserved},
        condition=condition,
        values=values,
    )


def reservation_writes(
    table: str,
    tenant_id: str,
    amount: int,
    at: str,
    *,
    job_id: str | None = None,
    attempt: int = 0,
    batch_id: str | None = None,
) -> list[dict[str, Any]]:
    """The account's change first (its condition is what fails when the balance is short:
    RESERVATION_CHECK is its place), then the entry."""
    entry = reservation_entry(
        tenant_id, amount, at, job_id=job_id, attempt=attempt, batch_id=batch_id
    )
    change = account_change(tenant_id, -amount, amount, at, at_least=amount)
    return [change.transact(table), entry_put(table, entry)]


# The place of the balance's condition among reservation_writes.
RESERVATION_CHECK = 0


def settlement_writes(
    table: str,
    tenant_id: str,
    job_id: str,
    attempt: int,
    batch_id: str | None,
    held: int,
    charged: int,
    at: str,
) -> list[dict[str, Any]]:
    """End a job's hold of `held`: charge `charged` (at most all of it), refund the rest."""
    refund, entries = settlement_entries(tenant_id, job_id, attempt, batch_id, held, charged, at)
    writes = [account_change(tenant_id, refund, -held, at).transact(table)]
    return writes + [entry_put(table, entry) for entry in entries]

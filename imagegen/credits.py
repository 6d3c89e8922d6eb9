"""Tenants' credits: which jobs are metered, what they hold, and the balance a tenant sees.

A tenant is metered once it has a credit account: an operator granted it credits
(`python -m imagegen.cli grant-credits`, or `set-limits --credits`), or
IMAGEGEN_DEFAULT_CREDITS opened one at its first job. A metered tenant's job holds its
price (the plan's credits) from the balance when it is accepted — 402 IMG101 before anything
is queued when the balance cannot pay — and the repository settles the hold when the job
ends: charged for a completed job, refunded for a failed or cancelled one, reserved again by
a retry (imagegen.storage.repository). No tenant route changes a balance.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagegen import errors
from imagegen.caller import Caller
from imagegen.errors import ServiceError
from imagegen.records import CreditAccount, Job, credit_units, in_credits, utc_now
from imagegen.services import Services
from imagegen.storage.repository import InsufficientCredits, Repository
from imagegen.tenant_limits import EffectiveLimits


def price_of(job: Job) -> int:
    """The job's price in CREDIT_UNITS: its plan's credits for all its images."""
    return credit_units(job.plan.cost()["credits_used"])


def hold_prices(svc: Services, tenant_id: str, jobs: list[Job]) -> None:
    """Mark each job of a metered tenant to hold its price when it is recorded; a tenant
    without an account opens one when IMAGEGEN_DEFAULT_CREDITS gives it an opening balance."""
    # An account opened here is dated as its first jobs, so the ledger's opening grant never
    # comes after the reservation it pays for.
    if not metered(svc, tenant_id, min(job.created_at for job in jobs)):
        return
    for job in jobs:
        job.reserved_credits = price_of(job)


def metered(svc: Services, tenant_id: str, at: str) -> bool:
    if svc.repository.credit_account(tenant_id) is not None:
        return True
    opening = svc.settings.default_credits
    if opening is None or opening == 0:
        return False
    svc.repository.open_credit_account(tenant_id, credit_units(opening), at)
    return True


def refused(shortfall: InsufficientCredits) -> ServiceError:
    """402 IMG101, saying what is left and what the job costs."""
    remaining = in_credits(shortfall.account.balance if shortfall.account else 0)
    price = in_credits(shortfall.price)
    return ServiceError(
        errors.INSUFFICIENT_CREDITS,
        f"not enough credits: this costs {price:g} and {remaining:g} remain",
        {"remaining_credits": remaining, "price_credits": price},
    )


@dataclass(frozen=True)
class Balance:
    """A tenant's credits as it sees them; metered False: no account, nothing is charged."""

    metered: bool
    balance: float | None
    reserved: float | None
    updated_at: str | None

    @classmethod
    def of(cls, account: CreditAccount | None) -> Balance:
        if account is None:
            return cls(metered=False, balance=None, reserved=None, updated_at=None)
        return cls(
            metered=True,
            balance=in_credits(account.balance),
            reserved=in_credits(account.reserved),
            updated_at=account.updated_at,
        )


def grant(repository: Repository, tenant_id: str, credits: float, note: str) -> CreditAccount:
    """An operator's grant (negative: a correction; ValueError below a zero balance)."""
    return repository.grant_credits(tenant_id, credit_units(credits), utc_now(), note)


def set_balance(repository: Repository, tenant_id: str, credits: float) -> CreditAccount:
    """Bring the balance to `credits` with one grant of the difference."""
    account = repository.credit_account(tenant_id)
    current = account.balance if account is not None else 0
    change = credit_units(credits) - current
    return repository.grant_credits(tenant_id, change, utc_now(), "balance set by operator")


@dataclass(frozen=True)
class TenantBalance:
    """GET /v1/balance: the caller's tenant's credits and the limits that apply to it."""

    credits: Balance
    limits: EffectiveLimits
    storage_used_bytes: int


def tenant_balance(svc: Services, caller: Caller) -> TenantBalance:
    return TenantBalance(
        credits=Balance.of(svc.repository.credit_account(caller.tenant_id)),
        limits=svc.limits.get(caller.tenant_id),
        storage_used_bytes=svc.repository.image_summary(caller.tenant_id).total_size_bytes,
    )

"""Operator commands: `python -m imagegen.cli <command>`, one of create-key, bootstrap-key,
failed-jobs, retry-job, recount-images, set-limits, show-limits, grant-credits and
show-ledger."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import Any

from imagegen import credits, keys
from imagegen.config import Settings
from imagegen.records import FAILED, TenantLimits, in_credits, utc_now
from imagegen.serializers import library_summary
from imagegen.services import build_repository, build_services
from imagegen.storage.repository import InsufficientCredits
from imagegen.tenant_limits import LIMIT_NAMES, effective_limits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m imagegen.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an API key and print it once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--user", required=True)
    create.add_argument("--name", default="default")
    create.add_argument("--key", help="store this key instead of generating one")
    commands.add_parser(
        "bootstrap-key",
        help="store IMAGEGEN_BOOTSTRAP_API_KEY, or make a development key once, and print it",
    )
    failed = commands.add_parser(
        "failed-jobs", help="the dead-letter list: failed jobs of every tenant, newest first"
    )
    failed.add_argument("--tenant", help="only this tenant's")
    failed.add_argument("--limit", type=int, default=50)
    retry = commands.add_parser("retry-job", help="queue a failed job again (retry_count + 1)")
    retry.add_argument("job_id")
    recount = commands.add_parser(
        "recount-images",
        help="rebuild a tenant's image library counters from its images and print the summary",
    )
    recount.add_argument("--tenant", required=True)
    set_limits = commands.add_parser(
        "set-limits",
        help="set a tenant's limits (N >= 0, 0 = unlimited; 'default' = the default setting, "
        "such as IMAGEGEN_DEFAULT_REQUESTS_PER_MINUTE; an option not given keeps its value) "
        "and print them",
    )
    set_limits.add_argument("--tenant", required=True)
    for name in LIMIT_NAMES:
        # SUPPRESS: an option not given is absent from args, so its stored value stays.
        set_limits.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=_limit_value,
            default=argparse.SUPPRESS,
            metavar="N|default",
        )
    set_limits.add_argument(
        "--credits",
        type=_credits_value,
        metavar="N",
        help="set the tenant's credit balance to N (a grant of the difference, in the ledger)",
    )
    show_limits = commands.add_parser(
        "show-limits",
        help="print a tenant's stored limits, the limits that apply to it and its credits",
    )
    show_limits.add_argument("--tenant", required=True)
    grant_credits = commands.add_parser(
        "grant-credits",
        help="add N credits to a tenant's balance (negative: a correction), opening its "
        "account (so metering it) when it has none, and print its credits",
    )
    grant_credits.add_argument("--tenant", required=True)
    grant_credits.add_argument("credits", type=float, metavar="N")
    grant_credits.add_argument("--note", default="granted by operator")
    show_ledger = commands.add_parser(
        "show-ledger", help="a tenant's credit ledger, newest first, one JSON line per entry"
    )
    show_ledger.add_argument("--tenant", required=True)
    show_ledger.add_argument("--job", help="only this job's entries")
    show_ledger.add_argument("--limit", type=int, default=50)
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    if args.command == "failed-jobs":
        return _failed_jobs(settings, args.tenant, args.limit)
    if args.command == "retry-job":
        return _retry_job(settings, args.job_id)
    if args.command == "recount-images":
        return _recount_images(settings, args.tenant)
    if args.command == "set-limits":
        changes = {name: getattr(args, name) for name in LIMIT_NAMES if hasattr(args, name)}
        return _set_limits(settings, args.tenant, changes, args.credits)
    if args.command == "grant-credits":
        return _grant_credits(settings, args.tenant, args.credits, args.note)
    if args.command == "show-ledger":
        return _show_ledger(settings, args.tenant, args.job, args.limit)
    if args.command == "show-limits":
        return _show_limits(settings, args.tenant)
    repo = build_repository(settings)
    if args.command == "create-key":
        print(keys.create_key(repo, args.tenant, args.user, args.name, args.key))
        return 0

    bootstrap = os.environ.get("IMAGEGEN_BOOTSTRAP_API_KEY", "")
    if bootstrap:
        keys.create_key(repo, "default", "admin", "bootstrap", bootstrap)
        print("API key: the value of IMAGEGEN_BOOTSTRAP_API_KEY", file=sys.stderr)
        return 0
    # A generated development key is kept in the data directory so that every `make run`
    # prints the same working key.
    path = settings.data_dir / "dev-api-key"
    if path.exists():
        key = path.read_text(encoding="ascii").strip()
    else:
        key = keys.new_key()
        path.write_text(key + "\n", encoding="ascii")
        path.chmod(0o600)
    keys.create_key(repo, "default", "admin", "development", key)
    print(f"API key: {key}", file=sys.stderr)
    return 0


def _failed_jobs(settings: Settings, tenant_id: str | None, limit: int) -> int:
    """One JSON line per failed job: what an operator needs to judge and retry it."""
    for job in build_repository(settings).list_jobs(tenant_id, FAILED, limit):
        line = {
            "job_id": job.job_id,
            "tenant_id": job.tenant_id,
            "user_id": job.user_id,
            "kind": job.kind,
            "model": job.plan.model_id,
            "completed_at": job.completed_at,
            "retry_count": job.retry_count,
            "recoveries": job.recoveries,
            "error": job.error,
        }
        print(json.dumps(line))
    return 0


def _retry_job(settings: Settings, job_id: str) -> int:
    services = build_services(settings)
    job = services.repository.load_job(job_id)
    try:
        retried = job is not None and services.repository.retry_job(
            job.tenant_id, job_id, utc_now()
        )
    except InsufficientCredits as shortfall:
        print(f"{job_id}: {credits.refused(shortfall).message}", file=sys.stderr)
        return 1
    if job is None or not retried:
        state = job.status if job is not None else "not found"
        print(f"{job_id}: only a failed job can be retried ({state})", file=sys.stderr)
        return 1
    services.queue.enqueue_generation(job_id, job.request_id, job.priority)
    print(f"{job_id}: queued again", file=sys.stderr)
    return 0


def _recount_images(settings: Settings, tenant_id: str) -> int:
    """For counters that drifted from the images (records removed outside the repository,
    such as by DynamoDB TTL): one JSON line, the summary as recounted."""
    summary = build_repository(settings).recount_images(tenant_id)
    print(json.dumps({"tenant_id": tenant_id, **library_summary(summary)}))
    return 0


def _limit_value(raw: str) -> int | None:
    """A limit as an operator gives it: N >= 0 (0 = unlimited), or 'default' (None)."""
    if raw == "default":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{raw!r} is not 'default' or an integer >= 0")
    return value


def _credits_value(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number of credits >= 0")
    return value


def _set_limits(
    settings: Settings, tenant_id: str, changes: dict[str, Any], balance: float | None
) -> int:
    """Change the limits given (name -> N or None, from _limit_value) and keep the others:
    the tenant's whole record is written. With a balance, set the tenant's credits to it."""
    repo = build_repository(settings)
    stored = repo.get_tenant_limits(tenant_id) or TenantLimits(tenant_id=tenant_id)
    if changes or balance is None:
        stored = dataclasses.replace(stored, **changes, updated_at=utc_now())
        repo.put_tenant_limits(stored)
    if balance is not None:
        credits.set_balance(repo, tenant_id, balance)
    return _print_limits(settings, tenant_id)


def _show_limits(settings: Settings, tenant_id: str) -> int:
    return _print_limits(settings, tenant_id)


def _grant_credits(settings: Settings, tenant_id: str, amount: float, note: str) -> int:
    try:
        credits.grant(build_repository(settings), tenant_id, amount, note)
    except ValueError as refusal:
        print(f"{tenant_id}: {refusal}", file=sys.stderr)
        return 1
    return _print_limits(settings, tenant_id)


def _show_ledger(settings: Settings, tenant_id: str, job_id: str | None, limit: int) -> int:
    for entry in build_repository(settings).ledger_entries(tenant_id, limit, job_id):
        line = dataclasses.asdict(entry)
        line["amount"] = in_credits(entry.amount)
        print(json.dumps(line))
    return 0


def _print_limits(settings: Settings, tenant_id: str) -> int:
    """One JSON line: the stored record (null when none was set), the effective limits
    (null: unlimited) and the tenant's credits (metered false: not charged)."""
    repo = build_repository(settings)
    stored = repo.get_tenant_limits(tenant_id)
    line = {
        "tenant_id": tenant_id,
        "stored": dataclasses.asdict(stored) if stored is not None else None,
        "effective": dataclasses.asdict(effective_limits(settings, stored)),
        "credits": dataclasses.asdict(credits.Balance.of(repo.credit_account(tenant_id))),
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A tenant's usage over a period: images, model calls, credits and US dollars, in total and
grouped by day, model or user.

Usage is read from the jobs themselves, the record of what was produced and priced. Only a
completed job counts: the worker completes a job only once every one of its n images is
stored, and records its cost then (plan.cost(), all n images). A failed or cancelled job
records no cost and keeps no images, so it counts nothing, not even the calls it made before
it stopped. A job counts in the period, and on the day, it was submitted (created_at, UTC),
the order the repository lists jobs in.

`calls` are the InvokeModel calls the job's plan splits its images into (plan.calls(): one
per image on the Stability models, up to 5 images per call on Titan and Nova). A call the
provider client repeated after throttling or a transient error counts once.

Every caller of a tenant sees the tenant's whole usage, as GET /v1/jobs shows each of them
every job of the tenant; group_by=user splits it by the user each job was submitted for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from imagegen import errors
from imagegen.caller import Caller
from imagegen.errors import ServiceError
from imagegen.records import COMPLETED, Job, utc_timestamp
from imagegen.services import Services

GROUPINGS = ("day", "model", "user")
DEFAULT_PERIOD = timedelta(days=30)
# A report reads every completed job of its period, so the period is bounded.
MAX_PERIOD = timedelta(days=93)
# Jobs read per repository query while walking a period, newest first.
_PAGE_SIZE = 100
_TIMESTAMP_PRECISION = timedelta(milliseconds=1)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# RFC 3339 date-time: the offset is required, so no moment is read in a zone it was not meant
# in. Fractions beyond microseconds are dropped (timestamps are kept to the millisecond).
_DATE_TIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]+)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})"
)
# An unencoded "+01:00" in a query string arrives as " 01:00".
_OFFSET_WITHOUT_PLUS = re.compile(r" ([0-9]{2}:[0-9]{2})$")


@dataclass(frozen=True)
class UsageQuery:
    """A period, from `start` (inclusive) to `end` (exclusive), and how to group it."""

    start: datetime
    end: datetime
    group_by: str | None = None

    @property
    def last_moment(self) -> datetime:
        """The period's last millisecond: `to` as the caller reads it, inclusive."""
        return self.end - _TIMESTAMP_PRECISION


def parse_usage_query(
    raw_from: str | None, raw_to: str | None, raw_group_by: str | None, now: datetime
) -> UsageQuery:
    """The query string's `from`, `to` and `group_by`; every bad value is 400 IMG302 naming
    its parameter.

    from and to are RFC 3339 dates (UTC days) or date-times, both inclusive: a date as `to`
    is its whole day. Without `to` the period ends now; without `from` it starts 30 days
    before its end. It may span at most 93 days.
    """
    if raw_group_by is not None and raw_group_by not in GROUPINGS:
        raise _invalid(
            "group_by", "group_by must be one of " + ", ".join(GROUPINGS), list(GROUPINGS)
        )
    end = _moment("to", raw_to, end_of_day=True) if raw_to is not None else now
    start = (
        _moment("from", raw_from, end_of_day=False)
        if raw_from is not None
        else end - DEFAULT_PERIOD
    )
    if start > end:
        raise _invalid("from", "from must not be after to")
    # Timestamps are kept to the millisecond: the end is exclusive from the next one on.
    end = end.replace(microsecond=end.microsecond // 1000 * 1000) + _TIMESTAMP_PRECISION
    if end - start > MAX_PERIOD:
        raise _invalid("from", f"from and to may be at most {MAX_PERIOD.days} days apart")
    return UsageQuery(start=start, end=end, group_by=raw_group_by)


def _moment(name: str, raw: str, end_of_day: bool) -> datetime:
    """A date as its first millisecond, or with end_of_day its last; a date-time as given."""
    text = _OFFSET_WITHOUT_PLUS.sub(r"+\1", raw.strip()).upper()
    try:
        if _DATE.fullmatch(text):
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) - _TIMESTAMP_PRECISION if end_of_day else moment
        matched = _DATE_TIME.fullmatch(text)
        if matched:
            seconds, fraction, offset = matched.groups()
            microseconds = (fraction or "")[:7]
            parsed = datetime.fromisoformat(seconds + microseconds + offset)
            return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        pass
    raise _invalid(
        name,
        f"{name} must be an RFC 3339 date or date-time with an offset, "
        "e.g. 2026-11-01 or 2026-11-01T09:30:00Z",
    )


def _invalid(name: str, message: str, allowed: list[str] | None = None) -> ServiceError:
    details: dict[str, object] = {"field": name, "parameter": name}
    if allowed is not None:
        details["allowed"] = allowed
    return ServiceError(errors.INVALID_PARAMETERS, message, details)


@dataclass
class UsageFigures:
    """What a set of completed jobs produced and cost."""

    jobs: int = 0
    images: int = 0
    calls: int = 0
    credits_used: float = 0.0
    price_usd: float = 0.0

    def add(self, job: Job) -> None:
        cost = job.cost or {}
        self.jobs += 1
        self.images += len(job.image_ids)
        self.calls += len(job.plan.calls())
        self.credits_used += cost.get("credits_used", 0.0)
        self.price_usd += cost.get("price_usd", 0.0)

    def rounded(self) -> UsageFigures:
        """Sums to the precision each job's cost is given in, without float noise."""
        return UsageFigures(
            self.jobs,
            self.images,
            self.calls,
            round(self.credits_used, 2),
            round(self.price_usd, 4),
        )


@dataclass(frozen=True)
class UsageReport:
    query: UsageQuery
    totals: UsageFigures
    # The figures of each day (YYYY-MM-DD, UTC), model id or user id, in that key's order;
    # empty without group_by. Only keys with a completed job appear.
    groups: list[tuple[str, UsageFigures]] = field(default_factory=list)


def usage_report(svc: Services, caller: Caller, query: UsageQuery) -> UsageReport:
    totals = UsageFigures()
    groups: dict[str, UsageFigures] = {}
    for job in _completed_jobs(svc, caller.tenant_id, query):
        totals.add(job)
        if query.group_by is not None:
            groups.setdefault(_group_key(job, query.group_by), UsageFigures()).add(job)
    return UsageReport(
        query=query,
        totals=totals.rounded(),
        groups=[(key, groups[key].rounded()) for key in sorted(groups)],
    )


def _group_key(job: Job, group_by: str) -> str:
    if group_by == "day":
        return job.created_at[:10]
    if group_by == "model":
        return job.plan.model_id
    return job.user_id


def _completed_jobs(svc: Services, tenant_id: str, query: UsageQuery) -> Iterator[Job]:
    """The tenant's completed jobs created in the period, newest first, a page at a time.

    The listing starts below the period's end (its cursor is exclusive, and "" sorts before
    every job id) and stops at the first job created before its start.
    """
    start = utc_timestamp(query.start)
    after = (utc_timestamp(query.end), "")
    while True:
        page = svc.repository.list_jobs(tenant_id, COMPLETED, _PAGE_SIZE, after)
        for job in page:
            if job.created_at < start:
                return
            yield job
        if len(page) < _PAGE_SIZE:
            return
        after = (page[-1].created_at, page[-1].job_id)

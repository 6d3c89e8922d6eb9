"""How long images are kept: the one retention policy both backends and the API apply.

An image expires a number of days after it was created: a short time while temporary, a
longer one (or never) once saved. Counting from creation, not from saving, matches S3
lifecycle rules, which count an object's age from when it was written.
"""

from __future__ import annotations

from datetime import timedelta

from imagegen.config import Settings
from imagegen.records import parse_utc, utc_timestamp


def temporary_expiry(settings: Settings, created_at: str) -> str:
    return _days_after(created_at, settings.temporary_retention_days)


def saved_expiry(settings: Settings, created_at: str) -> str | None:
    if settings.saved_retention_days == 0:
        return None
    return _days_after(created_at, settings.saved_retention_days)


def _days_after(moment: str, days: int) -> str:
    return utc_timestamp(parse_utc(moment) + timedelta(days=days))

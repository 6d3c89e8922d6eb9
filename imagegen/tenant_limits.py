"""The limits that apply to a tenant: its operator-set record over the default settings.

A limit the tenant's record leaves None takes its default (IMAGEGEN_DEFAULT_STORAGE_BYTES for
storage_bytes, and so on; unset: unlimited); 0,
set for the tenant or as the default, means unlimited. Operators set the records with
`python -m imagegen.cli set-limits`.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagegen.config import Settings
from imagegen.records import TenantLimits

# The limits a tenant's record, the defaults (as default_<name>) and EffectiveLimits share.
LIMIT_NAMES = ("requests_per_minute", "images_per_minute", "storage_bytes", "max_concurrent_jobs")


@dataclass(frozen=True)
class EffectiveLimits:
    """The limits that apply to a tenant now; None: unlimited."""

    requests_per_minute: int | None
    images_per_minute: int | None
    storage_bytes: int | None
    max_concurrent_jobs: int | None


def effective_limits(settings: Settings, stored: TenantLimits | None) -> EffectiveLimits:
    """The tenant's stored limits where set, else the settings' defaults; 0 becomes None."""
    own = stored if stored is not None else TenantLimits(tenant_id="")
    return EffectiveLimits(
        requests_per_minute=_applying(
            own.requests_per_minute, settings.default_requests_per_minute
        ),
        images_per_minute=_applying(own.images_per_minute, settings.default_images_per_minute),
        storage_bytes=_applying(own.storage_bytes, settings.default_storage_bytes),
        max_concurrent_jobs=_applying(
            own.max_concurrent_jobs, settings.default_max_concurrent_jobs
        ),
    )


def _applying(stored: int | None, default: int | None) -> int | None:
    value = default if stored is None else stored
    return value or None  # 0: unlimited

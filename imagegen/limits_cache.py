"""Each tenant's effective limits, kept per process for a few seconds.

A request must not cost a database read to learn its tenant's limits, and an operator's
change (`python -m imagegen.cli set-limits`) must reach every API task without a restart:
each tenant's limits are read again once they are LIMITS_TTL_SECONDS old.
"""

from __future__ import annotations

import threading
import time

from imagegen.config import Settings
from imagegen.storage.repository import Repository
from imagegen.tenant_limits import EffectiveLimits, effective_limits

LIMITS_TTL_SECONDS = 5.0


class LimitsCache:
    """Each tenant's effective limits, read again once they are LIMITS_TTL_SECONDS old."""

    def __init__(
        self, repository: Repository, settings: Settings, ttl_seconds: float = LIMITS_TTL_SECONDS
    ) -> None:
        self._repository = repository
        self._settings = settings
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._found: dict[str, tuple[float, EffectiveLimits]] = {}

    def get(self, tenant_id: str) -> EffectiveLimits:
        now = time.monotonic()
        with self._lock:
            cached = self._found.get(tenant_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        limits = effective_limits(self._settings, self._repository.get_tenant_limits(tenant_id))
        with self._lock:
            self._found[tenant_id] = (now, limits)
        return limits

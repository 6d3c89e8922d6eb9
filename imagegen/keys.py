"""API keys: created once, shown once, stored only as a hash.

Keys are 256-bit random tokens, so a fast hash (SHA-256) is enough: there is no password
to brute-force, and lookups stay a single indexed read.

The API keeps the keys it has verified for a few seconds (KeyCache), so a request costs no
database read to learn who is calling. A key that stops being valid (its record deleted or
changed in the repository) is therefore refused by every API process within
KEY_CACHE_TTL_SECONDS, not at once. A key that is not found is never kept: a new key works
at once, and made-up keys cannot fill the cache.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable

from imagegen.records import ApiKey, utc_now
from imagegen.storage.repository import Repository

KEY_PREFIX = "igk_"
# How long a verified key is trusted without reading its record again: the most time a
# removed key keeps working on an API process.
KEY_CACHE_TTL_SECONDS = 5.0
# Verified keys kept per process at most; past it the oldest are forgotten first.
KEY_CACHE_MAX_KEYS = 10_000


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_key(
    repo: Repository, tenant_id: str, user_id: str, name: str = "default", key: str | None = None
) -> str:
    """Store a key (a given one, or a new one) for tenant/user and return it in clear."""
    key = key or new_key()
    if len(key) < 20:
        raise ValueError("an API key must be at least 20 characters")
    repo.add_api_key(
        ApiKey(
            key_hash=hash_key(key),
            key_prefix=key[:8],
            tenant_id=tenant_id,
            user_id=user_id,
            name=name,
            created_at=utc_now(),
        )
    )
    return key


def authenticate(repo: Repository, key: str) -> ApiKey | None:
    """The key's record, read from the repository now."""
    return repo.find_api_key(hash_key(key))


class KeyCache:
    """Keys verified against the repository, trusted for ttl_seconds after each read."""

    def __init__(
        self,
        repository: Repository,
        ttl_seconds: float = KEY_CACHE_TTL_SECONDS,
        max_keys: int = KEY_CACHE_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._repository = repository
        self._ttl = ttl_seconds
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        # By the key's hash (never the key itself): when it was read, and its record.
        # Insertion order is read order, so the first entries are the oldest.
        self._verified: dict[str, tuple[float, ApiKey]] = {}

    def authenticate(self, key: str) -> ApiKey | None:
        """The key's record (None: not a valid key), at most ttl_seconds old."""
        key_hash = hash_key(key)
        now = self._clock()
        with self._lock:
            cached = self._verified.get(key_hash)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        found = self._repository.find_api_key(key_hash)
        with self._lock:
            self._verified.pop(key_hash, None)
            if found is not None:
                while len(self._verified) >= self._max_keys:
                    del self._verified[next(iter(self._verified))]
                self._verified[key_hash] = (now, found)
        return found

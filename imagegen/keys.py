"""API keys: created once, shown once, stored only as a hash.

Keys are 256-bit random tokens, so a fast hash (SHA-256) is enough: there is no password
to brute-force, and lookups stay a single indexed read.
"""

from __future__ import annotations

import hashlib
import secrets

from imagegen.records import ApiKey, utc_now
from imagegen.storage.repository import Repository

KEY_PREFIX = "igk_"


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
    return repo.find_api_key(hash_key(key))

"""Signed, expiring file URLs for the local blob store (S3 presigns its own)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import quote, urlencode


class UrlSigner:
    def __init__(
        self,
        secret: str,
        base_url: str,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret.encode()
        self._base_url = base_url
        self._ttl = ttl_seconds
        self._clock = clock

    def _signature(self, key: str, expires: int) -> str:
        message = f"{key}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, key: str) -> str:
        expires = int(self._clock()) + self._ttl
        query = urlencode({"expires": expires, "signature": self._signature(key, expires)})
        return f"{self._base_url}/files/{quote(key)}?{query}"

    def verify(self, key: str, expires: str, signature: str) -> bool:
        try:
            expires_at = int(expires)
        except ValueError:
            return False
        if expires_at < self._clock():
            return False
        return hmac.compare_digest(self._signature(key, expires_at), signature)

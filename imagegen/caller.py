"""Who asks: what every use case needs to know about the request it serves."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """The tenant and user an API key belongs to, and the request's id for the logs."""

    tenant_id: str
    user_id: str
    request_id: str

"""Tenants' rate limits, shared by every API task through Redis.

The algorithm is the provider budget's (imagegen.quota): GCRA, one "theoretical arrival
time" per tenant and limit, checked and moved by one Lua script on Redis's own clock, so all
API tasks count together and agree without synchronised clocks. A limit of N a minute
spaces units 60/N seconds apart and lets a tenant spend a whole minute's worth at once (a
burst of N), never more than N in any minute after that. A unit is a request, or an image
for the images limit, so a batch or an n=4 generation costs its images at once.

A refused request spends nothing. When Redis cannot be asked, requests are admitted (with a
warning logged): the limits protect the fleet's fairness, not its safety, and an API that
refused everything while Redis restarts would be down with it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from redis import Redis, RedisError

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60

# KEYS[1]: the limit's arrival time (ms). ARGV: limit per window, cost, window in ms.
# Returns {allowed (1|0), remaining, ms until fully restored, ms until the cost would fit}.
_GCRA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local limit = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local interval = window / limit
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + cost * interval
if new_tat - now > window then
  local remaining = math.floor((window - (tat - now)) / interval)
  return {0, remaining, math.ceil(tat - now), math.ceil(new_tat - now - window)}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now) + 1000)
local remaining = math.floor((window - (new_tat - now)) / interval)
return {1, remaining, math.ceil(new_tat - now), 0}
"""


@dataclass(frozen=True)
class RateLimitState:
    """One limit as it stands after a check, for the RateLimit header fields
    (draft-ietf-httpapi-ratelimit-headers) and a refusal's Retry-After."""

    policy: str  # "requests" or "images"
    limit: int  # units per WINDOW_SECONDS
    allowed: bool
    remaining: int
    reset_seconds: int  # until the whole limit is available again
    retry_after_seconds: int  # until the refused cost would fit; 0 when allowed


class RateLimiter:
    def __init__(self, redis: Redis) -> None:
        self._script: Any = redis.register_script(_GCRA)

    def check(self, tenant_id: str, policy: str, limit: int, cost: int = 1) -> RateLimitState:
        """Spend `cost` units of the tenant's `policy` limit, if they fit; a cost larger than
        the whole limit never fits. Redis unreachable: admitted, with the limit untouched."""
        try:
            allowed, remaining, reset_ms, retry_ms = self._script(
                keys=[f"imagegen:rate:{tenant_id}:{policy}"],
                args=[limit, cost, WINDOW_SECONDS * 1000],
            )
        except RedisError:
            log.warning("rate limit not checked: Redis did not answer", exc_info=True)
            return RateLimitState(policy, limit, True, limit, 0, 0)
        return RateLimitState(
            policy=policy,
            limit=limit,
            allowed=bool(allowed),
            remaining=max(int(remaining), 0),
            reset_seconds=math.ceil(int(reset_ms) / 1000),
            retry_after_seconds=math.ceil(int(retry_ms) / 1000),
        )

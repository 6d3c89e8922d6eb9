"""One budget of model calls per model and region, shared by every worker through Redis.

Bedrock's image quotas are requests per minute, per model, per account and region. Every
worker container draws from one budget per (region, model) kept in Redis, so one container
or twenty together stay at the quota instead of twenty times it.

The algorithm is GCRA, the generic cell rate algorithm (a token bucket kept as one
timestamp): the budget is the "theoretical arrival time" of the next call, and a call may go
when that time is within the burst allowance of now. One number per model, updated by a Lua
script, so the check and the update are one atomic step on Redis (ElastiCache runs Lua
scripts but cannot load modules such as redis-cell), and the clock is Redis's own, so
workers on different machines agree without synchronised clocks. A sliding-window log would
store a member per call; a fixed-window counter admits twice the rate at a window's edge.

The rate each budget spends at is learned, AIMD-style (as TCP does): a ThrottlingException
cuts it multiplicatively (at most once per cooldown, since the calls in flight when the
quota was hit all come back throttled together), and every successful call raises it
additively, up to the configured quota. So a quota configured too high, or not configured,
settles just under the real one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from redis import Redis, RedisError

log = logging.getLogger(__name__)

# Multiplicative decrease on a throttle, and the additive increase per successful call, in
# calls a minute: at R calls a minute that is 5 % of R a minute, so a cut is won back in
# about two minutes, and a sawtooth between 90 % and 100 % of the real quota uses 95 % of it.
DECREASE_FACTOR = 0.9
INCREASE_PER_CALL = 0.05
# Calls in flight when the quota was hit come back throttled together: one cut for them.
DECREASE_COOLDOWN_MS = 2000
# A learned rate never drops below this (calls a minute): a model that throttles everything
# is still tried now and then.
MIN_RPM = 1.0
# Where an unconfigured model's rate starts, and how high learning may take it. High rather
# than low: cuts find a lower quota in seconds (ten cuts halve the rate in 20 s), while
# growth finds a higher one in minutes.
LEARNING_START_RPM = 120.0
LEARNING_MAX_RPM = 10_000.0
# Budgets nobody draws from are forgotten after this (a model no longer used).
IDLE_EXPIRY_MS = 3_600_000

# KEYS[1]: the budget hash {tat, rate, cut_at}. ARGV: ceiling, start rate, burst.
# Returns {granted (0/1), wait in ms, current rate as a string}.
_ACQUIRE = """
local now_parts = redis.call('TIME')
local now = now_parts[1] * 1000 + math.floor(now_parts[2] / 1000)
local ceiling = tonumber(ARGV[1])
local rate = tonumber(redis.call('HGET', KEYS[1], 'rate') or ARGV[2])
if rate > ceiling then rate = ceiling end
local interval = 60000 / rate
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or now)
if tat < now then tat = now end
local new_tat = tat + interval
local earliest = new_tat - burst * interval
if earliest > now then
  return {0, math.ceil(earliest - now), tostring(rate)}
end
redis.call('HSET', KEYS[1], 'tat', tostring(new_tat), 'rate', tostring(rate))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, 0, tostring(rate)}
"""

# KEYS[1]: the budget. ARGV: ceiling, start rate, factor, minimum, cooldown ms, expiry ms.
_THROTTLED = """
local now_parts = redis.call('TIME')
local now = now_parts[1] * 1000 + math.floor(now_parts[2] / 1000)
local rate = tonumber(redis.call('HGET', KEYS[1], 'rate') or ARGV[2])
local cut_at = tonumber(redis.call('HGET', KEYS[1], 'cut_at') or 0)
if now - cut_at >= tonumber(ARGV[5]) then
  rate = math.max(tonumber(ARGV[4]), math.min(rate, tonumber(ARGV[1])) * tonumber(ARGV[3]))
  -- The next call waits one new interval: the provider just said the budget is spent.
  local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or now)
  if tat < now then tat = now end
  redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'cut_at', tostring(now),
             'tat', tostring(tat + 60000 / rate))
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
end
return tostring(rate)
"""

# KEYS[1]: the budget. ARGV: ceiling, start rate, increase per call, expiry ms.
_SUCCEEDED = """
local rate = tonumber(redis.call('HGET', KEYS[1], 'rate') or ARGV[2])
local ceiling = tonumber(ARGV[1])
rate = math.min(ceiling, rate + tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], 'rate', tostring(rate))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return tostring(rate)
"""


@dataclass(frozen=True)
class Grant:
    """The answer to one request for a call: go now, or ask again after wait_seconds."""

    granted: bool
    wait_seconds: float
    rate_per_minute: float


class ModelQuotas:
    """The configured requests-per-minute quota of each model (None: learn it)."""

    def __init__(self, per_model: dict[str, int], default_rpm: int | None) -> None:
        self._per_model = dict(per_model)
        self._default = default_rpm

    def configured(self, model_id: str) -> int | None:
        return self._per_model.get(model_id, self._default)


def parse_quotas(text: str) -> dict[str, int]:
    """IMAGEGEN_BEDROCK_QUOTAS: "model-id=rpm,model-id=rpm"; raises ValueError if malformed."""
    quotas: dict[str, int] = {}
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        model_id, sep, rpm = entry.rpartition("=")
        if not sep or not model_id.strip() or not rpm.strip().isascii() or not rpm.isdigit():
            raise ValueError(f"{entry!r} is not model-id=requests-per-minute")
        if int(rpm) < 1:
            raise ValueError(f"{entry!r}: the quota must be at least 1 request a minute")
        quotas[model_id.strip()] = int(rpm)
    return quotas


class ProviderBudget:
    """The fleet's shared budget of model calls, one per (region, model)."""

    def __init__(self, redis: Redis, region: str, quotas: ModelQuotas, burst: int = 1) -> None:
        self._redis = redis
        self._region = region
        self._quotas = quotas
        self._burst = burst
        self._acquire: Any = redis.register_script(_ACQUIRE)
        self._throttled: Any = redis.register_script(_THROTTLED)
        self._succeeded: Any = redis.register_script(_SUCCEEDED)

    def key(self, model_id: str) -> str:
        return f"imagegen:quota:{self._region}:{model_id}"

    def _limits(self, model_id: str) -> tuple[float, float]:
        """(the most the rate may reach, where it starts)."""
        configured = self._quotas.configured(model_id)
        if configured is None:
            return LEARNING_MAX_RPM, LEARNING_START_RPM
        return float(configured), float(configured)

    def try_acquire(self, model_id: str) -> Grant:
        """Take one call from the budget if it has one now."""
        ceiling, start = self._limits(model_id)
        granted, wait_ms, rate = self._acquire(
            keys=[self.key(model_id)], args=[ceiling, start, self._burst, IDLE_EXPIRY_MS]
        )
        return Grant(bool(granted), int(wait_ms) / 1000, float(rate))

    def throttled(self, model_id: str) -> float:
        """The provider throttled a call: spend slower. Returns the new rate."""
        ceiling, start = self._limits(model_id)
        args = [ceiling, start, DECREASE_FACTOR, MIN_RPM, DECREASE_COOLDOWN_MS, IDLE_EXPIRY_MS]
        return float(self._throttled(keys=[self.key(model_id)], args=args))

    def succeeded(self, model_id: str) -> float:
        """A call went through: spend a little faster, up to the quota. Returns the rate."""
        ceiling, start = self._limits(model_id)
        args = [ceiling, start, INCREASE_PER_CALL, IDLE_EXPIRY_MS]
        return float(self._succeeded(keys=[self.key(model_id)], args=args))

    def rate(self, model_id: str) -> float | None:
        """The rate the fleet spends this model's budget at now (None: not used lately)."""
        raw = self._redis.hget(self.key(model_id), "rate")
        return float(raw) if raw is not None else None

    def describe(self, model_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Each model's configured quota and the rate the fleet spends it at now, for people
        to see why jobs wait. Without Redis the current rates are unknown (None)."""
        pipeline = self._redis.pipeline(transaction=False)
        for model_id in model_ids:
            pipeline.hget(self.key(model_id), "rate")
        try:
            rates = pipeline.execute()
        except RedisError:
            log.warning("the model budgets could not be read", exc_info=True)
            rates = [None] * len(model_ids)
        return {
            model_id: {
                "requests_per_minute": self._quotas.configured(model_id),
                "current_per_minute": None if raw is None else round(float(raw), 1),
            }
            for model_id, raw in zip(model_ids, rates, strict=True)
        }

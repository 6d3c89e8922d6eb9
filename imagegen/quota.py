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
# A cut never takes the rate below this share of what the provider admitted over the last
# minute: a quota just shown to allow that many calls is not worth probing far below.
ADMITTED_FLOOR_SHARE = 0.95
# A learned rate never drops below this (calls a minute): a model that throttles everything
# is still tried now and then.
MIN_RPM = 1.0
# Where an unconfigured model's rate starts, and how high learning may take it. High rather
# than low: cuts find a lower quota in seconds (ten cuts halve the rate in 20 s), while
# growth finds a higher one in minutes.
LEARNING_START_RPM = 120.0
LEARNING_MAX_RPM = 10_000.0
# Calls that may go at once beyond the even spacing. One: a quota counted per rolling minute
# is exceeded by any burst on top of the rate.
BURST_CALLS = 1
# Budgets nobody draws from are forgotten after this (a model no longer used).
IDLE_EXPIRY_MS = 3_600_000

# One script for the three operations, so they share how the budget is read and written.
# KEYS[1]: the budget hash: tat (the next call's theoretical arrival time, ms), rate (calls a
# minute), cut_at (the last cut, ms), and the calls the provider admitted in this minute
# and the one before (win: the minute's number, cnt, prev).
# ARGV: operation, ceiling, start rate, expiry ms, then the operation's own:
#   acquire: burst -> {granted 0/1, wait ms, rate}
#   succeeded: increase per call -> rate
#   throttled: factor, minimum, cooldown ms, floor share -> rate
_BUDGET = """
local key, op = KEYS[1], ARGV[1]
local ceiling, start, expiry = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
local h = redis.call('HMGET', key, 'tat', 'rate', 'cut_at', 'win', 'cnt', 'prev')
local tat = math.max(tonumber(h[1]) or now, now)
local rate = math.min(tonumber(h[2]) or start, ceiling)
local cut_at = tonumber(h[3]) or 0
local minute = math.floor(now / 60000)
local win, cnt, prev = tonumber(h[4]) or minute, tonumber(h[5]) or 0, tonumber(h[6]) or 0
if minute ~= win then
  if minute == win + 1 then prev = cnt else prev = 0 end
  cnt, win = 0, minute
end
local result
if op == 'acquire' then
  local interval = 60000 / rate
  local earliest = tat + interval - tonumber(ARGV[5]) * interval
  if earliest > now then
    return {0, math.ceil(earliest - now), tostring(rate)}
  end
  tat = tat + interval
  result = {1, 0, tostring(rate)}
elseif op == 'succeeded' then
  cnt = cnt + 1
  rate = math.min(ceiling, rate + tonumber(ARGV[5]))
  result = tostring(rate)
else
  if now - cut_at >= tonumber(ARGV[7]) then
    -- What the provider admitted over the last minute (a sliding estimate from two
    -- minutes' counts) is a rate its quota surely allows: never cut far below it.
    local admitted = cnt + prev * (1 - (now % 60000) / 60000)
    rate = math.max(tonumber(ARGV[6]), rate * tonumber(ARGV[5]), admitted * tonumber(ARGV[8]))
    rate = math.min(rate, ceiling)
    cut_at = now
    -- The next call waits one new interval: the provider just said the budget is spent.
    tat = tat + 60000 / rate
  end
  result = tostring(rate)
end
redis.call('HSET', key, 'tat', tostring(tat), 'rate', tostring(rate), 'cut_at',
           tostring(cut_at), 'win', win, 'cnt', cnt, 'prev', prev)
redis.call('PEXPIRE', key, expiry)
return result
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
        model_id, sep, rpm = (part.strip() for part in entry.rpartition("="))
        if not sep or not model_id or not rpm.isascii() or not rpm.isdigit():
            raise ValueError(f"{entry!r} is not model-id=requests-per-minute")
        if int(rpm) < 1:
            raise ValueError(f"{entry!r}: the quota must be at least 1 request a minute")
        quotas[model_id] = int(rpm)
    return quotas


class ProviderBudget:
    """The fleet's shared budget of model calls, one per (region, model)."""

    def __init__(self, redis: Redis, region: str, quotas: ModelQuotas) -> None:
        self._redis = redis
        self._region = region
        self._quotas = quotas
        self._script: Any = redis.register_script(_BUDGET)

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
        granted, wait_ms, rate = self._run(model_id, "acquire", BURST_CALLS)
        return Grant(bool(granted), int(wait_ms) / 1000, float(rate))

    def throttled(self, model_id: str) -> float:
        """The provider throttled a call: spend slower. Returns the new rate."""
        return float(
            self._run(
                model_id,
                "throttled",
                DECREASE_FACTOR,
                MIN_RPM,
                DECREASE_COOLDOWN_MS,
                ADMITTED_FLOOR_SHARE,
            )
        )

    def succeeded(self, model_id: str) -> float:
        """A call went through: spend a little faster, up to the quota. Returns the rate."""
        return float(self._run(model_id, "succeeded", INCREASE_PER_CALL))

    def _run(self, model_id: str, operation: str, *args: float) -> Any:
        ceiling, start = self._limits(model_id)
        return self._script(
            keys=[self.key(model_id)],
            args=[operation, ceiling, start, IDLE_EXPIRY_MS, *args],
        )

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

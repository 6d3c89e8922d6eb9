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

Jobs that find their model's budget spent do not hold a worker slot while they wait: they
are parked, one sorted set per (region, model) ranked by priority and then by when they
were accepted, and any runner takes the best-ranked parked job together with the next call
of that model's budget (one atomic step), so jobs of other models keep running meanwhile
and a waiting priority-9 job gets the next turn before priority-1 jobs. A call that waits
in its slot (the later calls of an n>1 job, a throttled call) gives way the same way to a
parked job ranked above it. A parked job taken with its turn whose tenant has no free slot
(imagegen.tenant_concurrency) gives the turn back, so the next parked job has it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis import Redis, RedisError
from rq.utils import as_text

from imagegen.jobqueue import CANCEL_KEY_PREFIX
from imagegen.records import MAX_PRIORITY, MIN_PRIORITY

log = logging.getLogger(__name__)

# Multiplicative decrease on a throttle, and the additive increase per successful call, in
# calls a minute: at R calls a minute that is 5 % of R a minute, so a cut is won back in
# about two minutes, and a sawtooth between 90 % and 100 % of the real quota uses 95 % of it.
DECREASE_FACTOR = 0.9
INCREASE_PER_CALL = 0.05
# Until a budget's first throttle, each call raises the rate by one call a minute instead
# (TCP's slow start): with calls waiting, the rate then doubles in well under a minute, so
# an unconfigured model whose quota is higher than LEARNING_START_RPM finds it in minutes,
# where 5 % a minute would take a quarter of an hour to double.
SLOW_START_INCREASE_PER_CALL = 1.0
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
# How long before its turn is due a caller may have it, and wait out the rest. With calls
# spaced exactly at the rate, a turn taken late is lost for good; the callers that ask are
# late by how long a busy process takes to wake a thread and reach Redis (milliseconds, more
# while other threads hold the GIL) and by Redis's 100 ms timeout resolution. Reserving the
# turn a little early keeps the spacing on the budget's clock, not on theirs.
TURN_LOOKAHEAD_MS = 50
# Budgets nobody draws from are forgotten after this (a model no longer used).
IDLE_EXPIRY_MS = 3_600_000

# One script for the operations, so they share how the budget is read and written.
# KEYS[1]: the budget hash: tat (the next call's theoretical arrival time, ms), rate (calls a
# minute), cut_at (the last cut, ms; none before the first), and the calls the provider
# admitted in each of the last 60 seconds (b0..b59: "second:count", a field per second).
# KEYS[2]: the model's parked jobs (sorted set, job id -> rank; lower goes first).
# KEYS[3]: the set of models that have parked jobs.
# ARGV: operation, ceiling, start rate, expiry ms, model id, then the operation's own:
#   acquire: burst, lookahead ms, rank ('' for none) -> {granted 0/1, wait ms, rate}; not
#     granted while a parked job ranks before the caller
#   take_parked: burst, lookahead ms, cancel key prefix, deadline ms ('' for none), priority
#     step ms, priority bands -> {granted 0/1, wait ms, rate, job id, expired 0/1}: a parked job
#     whose deadline has passed (it spends no turn: it only fails), else the best-ranked
#     parked job that was not cancelled, with its call's turn; wait -1 when none is parked
#   A turn due within the lookahead is granted before it is due, reserved: the grant's wait
#   is when the call may go. Not granted, the wait is when to ask again.
#   give_back: (none) -> rate; the last turn granted is free again
#   succeeded: increase per call, increase per call before the first throttle -> rate
#   throttled: factor, minimum, cooldown ms, floor share -> rate
_BUDGET = """
local key, op = KEYS[1], ARGV[1]
local ceiling, start, expiry = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
local second = math.floor(now / 1000)
local h = redis.call('HMGET', key, 'tat', 'rate', 'cut_at')
local tat = math.max(tonumber(h[1]) or now, now)
local rate = math.min(tonumber(h[2]) or start, ceiling)
local cut_at = tonumber(h[3]) or 0
local result
if op == 'acquire' or op == 'take_parked' then
  local interval = 60000 / rate
  local head = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if op == 'take_parked' then
    -- Cancelled jobs leave the line without spending a turn (a bounded number per call).
    local dropped = 0
    while #head > 0 and dropped < 100 and redis.call('EXISTS', ARGV[8] .. head[1]) == 1 do
      redis.call('ZREM', KEYS[2], head[1])
      dropped = dropped + 1
      head = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    end
  end
  if op == 'take_parked' and #head == 0 then
    redis.call('SREM', KEYS[3], ARGV[5])
    return {0, -1, tostring(rate), false, 0}
  end
  if op == 'take_parked' and ARGV[9] ~= '' then
    -- A rank is the priority's band plus the acceptance time (rank()), so the jobs
    -- accepted before the cutoff are the start of each band. Formatted as integers:
    -- Lua's own number format keeps only 14 digits.
    local cutoff, step = now - tonumber(ARGV[9]), tonumber(ARGV[10])
    for band = 0, tonumber(ARGV[11]) - 1 do
      local expired = redis.call('ZRANGEBYSCORE', KEYS[2], string.format('%.0f', band * step),
                                 string.format('%.0f', band * step + cutoff), 'LIMIT', 0, 1)
      if #expired > 0 then
        redis.call('ZREM', KEYS[2], expired[1])
        return {1, 0, tostring(rate), expired[1], 1}
      end
    end
  end
  if op == 'acquire' and ARGV[8] ~= '' and #head > 0 and tonumber(head[2]) < tonumber(ARGV[8]) then
    -- A parked job ranks before this caller: the next turn is the parked job's.
    return {0, math.ceil(interval), tostring(rate)}
  end
  local earliest = tat + interval - tonumber(ARGV[6]) * interval
  local lookahead = tonumber(ARGV[7])
  if earliest > now + lookahead then
    return {0, math.ceil(earliest - lookahead - now), tostring(rate), false, 0}
  end
  -- The turn is the caller's, at earliest: the next one is counted from it, however late
  -- the caller is to use it.
  local delay = math.ceil(math.max(0, earliest - now))
  tat = tat + interval
  if op == 'take_parked' then
    redis.call('ZREM', KEYS[2], head[1])
    result = {1, delay, tostring(rate), head[1], 0}
  else
    result = {1, delay, tostring(rate)}
  end
elseif op == 'give_back' then
  -- A turn its job could not use (its tenant had no free slot): the next caller has it.
  tat = math.max(now, tat - 60000 / rate)
  result = tostring(rate)
elseif op == 'succeeded' then
  local increase = tonumber(ARGV[6])
  if cut_at == 0 then increase = tonumber(ARGV[7]) end
  local field = 'b' .. (second % 60)
  local count = 1
  local bucket = redis.call('HGET', key, field)
  if bucket then
    local stamp, calls = string.match(bucket, '(%d+):(%d+)')
    if tonumber(stamp) == second then count = tonumber(calls) + 1 end
  end
  redis.call('HSET', key, field, string.format('%d:%d', second, count))
  rate = math.min(ceiling, rate + increase)
  result = tostring(rate)
else
  if now - cut_at >= tonumber(ARGV[8]) then
    -- What the provider admitted over the last 60 s is a rate its per-minute quota surely
    -- allows; and a throttle says that window is full, so it is about the quota itself.
    -- Never cut far below it: a spent rolling-minute quota refuses every call until its
    -- oldest calls are a minute old, and cutting all that while would sink the rate.
    local fields = {}
    for index = 0, 59 do fields[#fields + 1] = 'b' .. index end
    local admitted = 0
    for _, bucket in ipairs(redis.call('HMGET', key, unpack(fields))) do
      if bucket then
        local stamp, calls = string.match(bucket, '(%d+):(%d+)')
        if second - tonumber(stamp) < 60 then admitted = admitted + tonumber(calls) end
      end
    end
    rate = math.max(tonumber(ARGV[7]), rate * tonumber(ARGV[6]), admitted * tonumber(ARGV[9]))
    rate = math.min(rate, ceiling)
    cut_at = now
    -- The next call waits one new interval: the provider just said the budget is spent.
    tat = tat + 60000 / rate
  end
  result = tostring(rate)
end
redis.call('HSET', key, 'tat', tostring(tat), 'rate', tostring(rate), 'cut_at',
           tostring(cut_at))
redis.call('PEXPIRE', key, expiry)
return result
"""


@dataclass(frozen=True)
class Grant:
    """The answer to one request for a call. Granted: the turn is the caller's, and the
    call may go after wait_seconds. Not granted: ask again after wait_seconds."""

    granted: bool
    wait_seconds: float
    rate_per_minute: float


@dataclass(frozen=True)
class ParkedTurn:
    """A parked job and the model call it may make now, or, when expired, a parked job
    whose deadline passed while it waited: it is taken to fail, and makes no call."""

    job_id: str
    rate_per_minute: float
    wait_seconds: float  # when its call may go (the turn is reserved: see Grant)
    expired: bool = False


def rank(priority: int, accepted_at: datetime) -> float:
    """Where a job waits among a model's waiting jobs: by priority (highest first), then by
    when it was accepted (oldest first), so a job keeps its place across recoveries."""
    milliseconds = int(accepted_at.timestamp() * 1000)  # below 2^53 with the priority added
    return (MAX_PRIORITY - priority) * _PRIORITY_STEP_MS + milliseconds


# Larger than any acceptance time in milliseconds (year 2286), so priority decides first.
_PRIORITY_STEP_MS = 10**13


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

    def __init__(
        self,
        redis: Redis,
        region: str,
        quotas: ModelQuotas,
        job_deadline_seconds: float | None = None,
    ) -> None:
        """job_deadline_seconds: how long after acceptance a job may wait (None: parked jobs
        are only taken with their turn)."""
        self._redis = redis
        self._region = region
        self._quotas = quotas
        self._deadline_ms = (
            "" if job_deadline_seconds is None else str(int(job_deadline_seconds * 1000))
        )
        self._script: Any = redis.register_script(_BUDGET)

    def key(self, model_id: str) -> str:
        return f"imagegen:quota:{self._region}:{model_id}"

    def parked_key(self, model_id: str) -> str:
        return f"imagegen:parked:{self._region}:{model_id}"

    def _parked_models_key(self) -> str:
        return f"imagegen:parked-models:{self._region}"

    def _limits(self, model_id: str) -> tuple[float, float]:
        """(the most the rate may reach, where it starts)."""
        configured = self._quotas.configured(model_id)
        if configured is None:
            return LEARNING_MAX_RPM, LEARNING_START_RPM
        return float(configured), float(configured)

    def try_acquire(self, model_id: str, job_rank: float | None = None) -> Grant:
        """Take one call from the budget if it has one now and no parked job ranks before
        job_rank (see rank; None: the caller has no place among waiting jobs)."""
        order = "" if job_rank is None else repr(job_rank)
        granted, wait_ms, rate, *_ = self._run(
            model_id, "acquire", BURST_CALLS, TURN_LOOKAHEAD_MS, order
        )
        return Grant(bool(granted), int(wait_ms) / 1000, float(rate))

    def park(self, model_id: str, job_id: str, job_rank: float) -> None:
        """Leave the job waiting for its model's turn, without a worker slot."""
        with self._redis.pipeline() as pipe:
            pipe.zadd(self.parked_key(model_id), {job_id: job_rank})
            pipe.sadd(self._parked_models_key(), model_id)
            pipe.execute()

    def parked_models(self) -> list[str]:
        """Models that have parked jobs, as far as the last take_parked of each knew."""
        return sorted(as_text(member) for member in self._redis.smembers(self._parked_models_key()))

    def take_parked(self, model_id: str) -> ParkedTurn | Grant | None:
        """A parked job of the model whose deadline has passed (expired), else the
        best-ranked one with its call if the budget has one now; else the Grant saying when
        to ask again; None when no job of the model is parked."""
        granted, wait_ms, rate, job_id, expired = self._run(
            model_id,
            "take_parked",
            BURST_CALLS,
            TURN_LOOKAHEAD_MS,
            CANCEL_KEY_PREFIX,
            self._deadline_ms,
            _PRIORITY_STEP_MS,
            MAX_PRIORITY - MIN_PRIORITY + 1,
        )
        if granted:
            return ParkedTurn(
                as_text(job_id), float(rate), int(wait_ms) / 1000, expired=bool(expired)
            )
        if int(wait_ms) < 0:
            return None
        return Grant(False, int(wait_ms) / 1000, float(rate))

    def give_back(self, model_id: str) -> None:
        """A turn granted (to a parked job) that its job will not use: the budget's next
        caller may have it, so a job that cannot run yet does not cost its model a call."""
        self._run(model_id, "give_back")

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
        return float(
            self._run(model_id, "succeeded", INCREASE_PER_CALL, SLOW_START_INCREASE_PER_CALL)
        )

    def _run(self, model_id: str, operation: str, *args: float | str) -> Any:
        ceiling, start = self._limits(model_id)
        # Three keys in one script: fine on a Redis that is not a cluster (the cache module
        # turns cluster mode off), as RQ's own multi-key commands need too.
        return self._script(
            keys=[self.key(model_id), self.parked_key(model_id), self._parked_models_key()],
            args=[operation, ceiling, start, IDLE_EXPIRY_MS, model_id, *args],
        )

    def rate(self, model_id: str) -> float | None:
        """The rate the fleet spends this model's budget at now (None: not used lately)."""
        raw = self._redis.hget(self.key(model_id), "rate")
        return float(raw) if raw is not None else None

    def place(self, model_id: str, job_id: str) -> dict[str, Any] | None:
        """Where a parked job waits: its model's quota, the rate spent now, how many parked
        jobs go before it and about when its turn comes. None when the job is not parked
        (or Redis cannot say)."""
        pipeline = self._redis.pipeline(transaction=False)
        pipeline.zrank(self.parked_key(model_id), job_id)
        pipeline.hget(self.key(model_id), "rate")
        try:
            ahead, raw = pipeline.execute()
        except RedisError:
            log.warning("the model budget could not be read", exc_info=True)
            return None
        if ahead is None:
            return None
        rate = None if raw is None else float(raw)
        return {
            "model": model_id,
            "requests_per_minute": self._quotas.configured(model_id),
            "current_per_minute": None if rate is None else round(rate, 1),
            "jobs_ahead": ahead,
            # Its turn comes after each job before it has had one.
            "estimated_wait_seconds": round((ahead + 1) * 60 / rate, 1) if rate else None,
        }

    def describe(self, model_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Each model's configured quota and the rate the fleet spends it at now, for people
        to see why jobs wait. Without Redis the current rates are unknown (None)."""
        pipeline = self._redis.pipeline(transaction=False)
        for model_id in model_ids:
            pipeline.hget(self.key(model_id), "rate")
            pipeline.zcard(self.parked_key(model_id))
        try:
            answers = pipeline.execute()
        except RedisError:
            log.warning("the model budgets could not be read", exc_info=True)
            answers = [None] * (2 * len(model_ids))
        described = {}
        for index, model_id in enumerate(model_ids):
            raw, waiting = answers[2 * index], answers[2 * index + 1]
            rate = None if raw is None else float(raw)
            described[model_id] = {
                "requests_per_minute": self._quotas.configured(model_id),
                "current_per_minute": None if rate is None else round(rate, 1),
                "waiting_jobs": waiting,
                # The last waiting job's turn comes after every one before it has had its own.
                "estimated_wait_seconds": (
                    round(waiting * 60 / rate, 1) if rate and waiting is not None else None
                ),
            }
        return described

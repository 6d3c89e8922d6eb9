"""Each tenant's running jobs, counted by every worker through Redis, and its line of jobs
waiting for one of its slots (the tenant's `max_concurrent_jobs`, imagegen.tenant_limits).

A tenant's running jobs are a sorted set of job ids, each scored by when its slot runs out
(Redis's clock, in ms): a run renews its slot together with its lease on the job
(worker.jobs.Lease), so a slot runs out when the job's lease would. Every operation first
drops the slots that ran out, so a worker that was SIGKILLed frees its tenant's slots by
itself, at the moment the sweeper may take its jobs back.

A job whose tenant has no free slot waits in the tenant's line (a sorted set ranked as the
model budgets rank their parked jobs: priority, then acceptance; imagegen.quota.rank),
without a worker slot, and its RQ record says deferred, so the sweeper counts it as waiting
and never queues it a second time. The check and the wait are one Lua script: a job is
either given a slot or put in the line, never neither, so no slot freed meanwhile goes
unnoticed. Runners take the best-ranked waiting job of any tenant that has a free slot
(take_waiting), one atomic step that also gives it the slot. Within a tenant the line is
first come first served: a job does not take a free slot while a job ranked before it
waits.

Time spent in a tenant's line does not count against a job's deadline, which is about its
model's quota (IMAGEGEN_JOB_DEADLINE_SECONDS): the line keeps, per job, how long it waited
(waited_seconds), and the worker counts the deadline and the job's place in its model's
quota line from its acceptance plus that wait.

Redis unreachable: a job is admitted (with a warning logged), as the rate limiter admits
requests (imagegen.rate_limits): the limit keeps tenants fair, it is not what keeps the
service safe, and a worker that ran nothing while Redis restarts would be down with it.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any, cast

from redis import Redis, RedisError
from rq.job import Job as RqJob
from rq.job import JobStatus
from rq.utils import as_text, now, utcformat

from imagegen.jobqueue import CANCEL_KEY_PREFIX

log = logging.getLogger(__name__)

_RUNNING_KEY = "imagegen:tenant-running:{tenant_id}"
_WAITING_KEY = "imagegen:tenant-waiting:{tenant_id}"
# The tenants that have jobs in their line, as far as the last operation on each knew.
_WAITING_TENANTS_KEY = "imagegen:tenants-waiting"
# Per job: since (ms, while it is in a line) and waited (ms, in earlier stays).
_WAIT_KEY_PREFIX = "imagegen:tenant-wait:"
# How long a job's waiting time is kept after its last stay in a line: longer than any job
# lives (its deadline, plus a recovery or two).
_WAIT_TTL_MS = 7 * 24 * 3_600_000
# Tenants looked at in one take_waiting; with more waiting, a random sample of this many.
MAX_TENANTS_PER_TAKE = 100
# Cancelled jobs dropped from the head of one line in one call at most.
_CANCELLED_PER_CALL = 100

# KEYS and ARGV per operation (ARGV[1] the operation, ARGV[2] the slot's lifetime in ms):
#   admit: KEYS running, waiting, waiting tenants, the job's wait hash, its RQ record;
#     ARGV tenant, job id, cap (0: none), rank (as a decimal string), cancel prefix
#     -> {1 admitted | 0 put in the line, the tenant's running jobs}. A job that already
#     holds a slot (a run that replaces a dead one, a job given its slot by take_waiting)
#     keeps it.
#   renew: KEYS running; ARGV job id -> 1. A slot that ran out meanwhile is taken again: the
#     job runs, whatever the count says.
#   release: KEYS running, waiting; ARGV job id -> jobs in the tenant's line.
#   take: KEYS waiting tenants, then running and waiting of each tenant; ARGV cancel prefix,
#     wait prefix, RQ record prefix, started at (RQ's format), then tenant and cap of each
#     -> {job id, tenant} or false. The job's RQ record says started from then on: should
#     its taker die before the job starts or waits again, the sweeper queues it again once
#     that start is IMAGEGEN_REQUEUE_AFTER_SECONDS old (a deferred job in no line would be
#     left waiting for good).
# Scores are formatted as integers: Lua's own number format keeps only 14 digits.
_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local op, lifetime = ARGV[1], tonumber(ARGV[2])
local expires = string.format('%.0f', now + lifetime)

local function head_of(waiting, cancel_prefix)
  -- Cancelled jobs leave the line without a slot (a bounded number per call).
  local head = redis.call('ZRANGE', waiting, 0, 0, 'WITHSCORES')
  local dropped = 0
  while #head > 0 and dropped < CANCELLED_PER_CALL and
        redis.call('EXISTS', cancel_prefix .. head[1]) == 1 do
    redis.call('ZREM', waiting, head[1])
    dropped = dropped + 1
    head = redis.call('ZRANGE', waiting, 0, 0, 'WITHSCORES')
  end
  return head
end

local function hold(running, job)
  redis.call('ZADD', running, expires, job)
  -- Every slot runs out by then; so does the set, once no slot is renewed.
  redis.call('PEXPIRE', running, lifetime + 1000)
end

local function leave_line(wait)
  local since = redis.call('HGET', wait, 'since')
  if since then
    redis.call('HINCRBY', wait, 'waited', string.format('%.0f', math.max(0, now - tonumber(since))))
    redis.call('HDEL', wait, 'since')
  end
end

local function forget_if_empty(waiting, tenants, tenant)
  if redis.call('ZCARD', waiting) == 0 then redis.call('SREM', tenants, tenant) end
end

if op == 'admit' then
  local running, waiting, tenants, wait, record = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
  local tenant, job, cap = ARGV[3], ARGV[4], tonumber(ARGV[5])
  redis.call('ZREMRANGEBYSCORE', running, '-inf', now)
  local admitted = redis.call('ZSCORE', running, job) ~= false
  if not admitted and (cap == 0 or redis.call('ZCARD', running) < cap) then
    local head = head_of(waiting, ARGV[7])
    admitted = #head == 0 or head[1] == job or tonumber(head[2]) >= tonumber(ARGV[6])
  end
  if admitted then
    hold(running, job)
    if redis.call('ZREM', waiting, job) == 1 then leave_line(wait) end
    forget_if_empty(waiting, tenants, tenant)
    return {1, redis.call('ZCARD', running)}
  end
  redis.call('ZADD', waiting, ARGV[6], job)
  redis.call('SADD', tenants, tenant)
  if redis.call('HEXISTS', wait, 'since') == 0 then
    redis.call('HSET', wait, 'since', string.format('%.0f', now))
  end
  redis.call('PEXPIRE', wait, WAIT_TTL_MS)
  if redis.call('EXISTS', record) == 1 then
    redis.call('HSET', record, 'status', 'DEFERRED')
  end
  return {0, redis.call('ZCARD', running)}
elseif op == 'renew' then
  hold(KEYS[1], ARGV[3])
  return 1
elseif op == 'release' then
  redis.call('ZREM', KEYS[1], ARGV[3])
  return redis.call('ZCARD', KEYS[2])
else
  local cancel_prefix, wait_prefix, record_prefix, started_at = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
  local best, best_rank, best_job
  for index = 0, (#KEYS - 1) / 2 - 1 do
    local running, waiting = KEYS[2 + 2 * index], KEYS[3 + 2 * index]
    local tenant, cap = ARGV[7 + 2 * index], tonumber(ARGV[8 + 2 * index])
    redis.call('ZREMRANGEBYSCORE', running, '-inf', now)
    local head = head_of(waiting, cancel_prefix)
    if #head == 0 then
      redis.call('SREM', KEYS[1], tenant)
    elseif (cap == 0 or redis.call('ZCARD', running) < cap)
        and (best == nil or tonumber(head[2]) < best_rank) then
      best, best_rank, best_job = index, tonumber(head[2]), head[1]
    end
  end
  if best == nil then return false end
  local running, waiting = KEYS[2 + 2 * best], KEYS[3 + 2 * best]
  local tenant = ARGV[7 + 2 * best]
  redis.call('ZREM', waiting, best_job)
  hold(running, best_job)
  leave_line(wait_prefix .. best_job)
  if redis.call('EXISTS', record_prefix .. best_job) == 1 then
    redis.call('HSET', record_prefix .. best_job, 'status', 'STARTED', 'started_at', started_at)
  end
  forget_if_empty(waiting, KEYS[1], tenant)
  return {best_job, tenant}
end
"""
for _name, _value in {
    "CANCELLED_PER_CALL": str(_CANCELLED_PER_CALL),
    "WAIT_TTL_MS": str(_WAIT_TTL_MS),
    "'DEFERRED'": f"'{JobStatus.DEFERRED.value}'",
    "'STARTED'": f"'{JobStatus.STARTED.value}'",
}.items():
    _SCRIPT = _SCRIPT.replace(_name, _value)


@dataclass(frozen=True)
class Admission:
    """admitted: the job holds one of its tenant's slots; otherwise it waits in the
    tenant's line. running: the tenant's jobs holding a slot now."""

    admitted: bool
    running: int


@dataclass(frozen=True)
class WaitingJob:
    """A job taken from its tenant's line, already holding one of the tenant's slots."""

    job_id: str
    tenant_id: str


class TenantSlots:
    """Every tenant's running jobs and waiting line, shared by the fleet through Redis."""

    def __init__(self, redis: Redis, lease_seconds: float) -> None:
        """lease_seconds: how long a slot lasts without renewal (the job lease's length)."""
        self._redis = redis
        self._lifetime_ms = max(1, int(lease_seconds * 1000))
        self._script: Any = redis.register_script(_SCRIPT)

    @staticmethod
    def running_key(tenant_id: str) -> str:
        return _RUNNING_KEY.format(tenant_id=tenant_id)

    @staticmethod
    def waiting_key(tenant_id: str) -> str:
        return _WAITING_KEY.format(tenant_id=tenant_id)

    def admit(self, tenant_id: str, job_id: str, cap: int | None, job_rank: float) -> Admission:
        """Give the job one of its tenant's slots if one is free (cap None: no limit) and no
        job ranked before it (quota.rank) waits in the tenant's line; otherwise put it in
        the line, deferred in RQ's record. Redis unreachable: admitted, uncounted."""
        try:
            admitted, running = self._script(
                keys=[
                    self.running_key(tenant_id),
                    self.waiting_key(tenant_id),
                    _WAITING_TENANTS_KEY,
                    _WAIT_KEY_PREFIX + job_id,
                    RqJob.key_for(job_id),
                ],
                args=[
                    "admit",
                    self._lifetime_ms,
                    tenant_id,
                    job_id,
                    cap or 0,
                    f"{job_rank:.0f}",
                    CANCEL_KEY_PREFIX,
                ],
            )
        except RedisError:
            log.warning(
                "tenant's concurrent jobs not counted: Redis did not answer; the job runs",
                exc_info=True,
                extra={"job_id": job_id, "tenant_id": tenant_id},
            )
            return Admission(True, 0)
        return Admission(bool(admitted), int(running))

    def renew(self, tenant_id: str, job_id: str) -> None:
        """Keep the job's slot for another lease (called with each renewal of its lease)."""
        try:
            self._script(
                keys=[self.running_key(tenant_id)],
                args=["renew", self._lifetime_ms, job_id],
            )
        except RedisError:
            log.warning("could not renew a tenant's job slot", extra={"job_id": job_id})

    def release(self, tenant_id: str, job_id: str) -> int:
        """Free the job's slot (none held: nothing happens); how many of the tenant's jobs
        wait in its line (0 when Redis cannot say: the slot then runs out on its own)."""
        try:
            waiting = self._script(
                keys=[self.running_key(tenant_id), self.waiting_key(tenant_id)],
                args=["release", self._lifetime_ms, job_id],
            )
        except RedisError:
            log.warning(
                "could not free a tenant's job slot; it runs out with the lease",
                extra={"job_id": job_id},
            )
            return 0
        return int(waiting)

    def waiting_tenants(self) -> list[str]:
        """Tenants with jobs in their line (raises RedisError)."""
        return sorted(as_text(member) for member in self._redis.smembers(_WAITING_TENANTS_KEY))

    def take_waiting(self, caps: dict[str, int | None]) -> WaitingJob | None:
        """Of the given tenants' lines (tenant -> its cap, None: no limit), the best-ranked
        waiting job whose tenant has a free slot, given that slot; None when there is no
        such job. Lines found empty leave the waiting tenants. Raises RedisError."""
        tenants = list(caps)
        if len(tenants) > MAX_TENANTS_PER_TAKE:
            tenants = random.sample(tenants, MAX_TENANTS_PER_TAKE)
        if not tenants:
            return None
        keys = [_WAITING_TENANTS_KEY]
        args: list[str | int] = [
            "take",
            self._lifetime_ms,
            CANCEL_KEY_PREFIX,
            _WAIT_KEY_PREFIX,
            RqJob.redis_job_namespace_prefix,
            utcformat(now()),
        ]
        for tenant_id in tenants:
            keys += [self.running_key(tenant_id), self.waiting_key(tenant_id)]
            args += [tenant_id, caps[tenant_id] or 0]
        taken = self._script(keys=keys, args=args)
        if not taken:
            return None
        job_id, tenant_id = taken
        return WaitingJob(as_text(job_id), as_text(tenant_id))

    def waited_seconds(self, job_id: str) -> float:
        """How long the job has waited in its tenant's line, over all its stays there
        (0 when Redis cannot say)."""
        try:
            raw = self._redis.hget(_WAIT_KEY_PREFIX + job_id, "waited")
        except RedisError:
            log.warning("could not read how long a job waited for its tenant's slot")
            return 0.0
        return int(raw) / 1000 if raw is not None else 0.0

    def running(self, tenant_id: str) -> list[str]:
        """The tenant's jobs holding a slot now (slots that ran out are left out)."""
        now_ms = _redis_ms(self._redis)
        found = self._redis.zrangebyscore(self.running_key(tenant_id), f"({now_ms}", "+inf")
        return sorted(as_text(member) for member in cast(list[bytes], found))

    def waiting(self, tenant_id: str) -> list[str]:
        """The tenant's line, first to go first."""
        found = self._redis.zrange(self.waiting_key(tenant_id), 0, -1)
        return [as_text(member) for member in cast(list[bytes], found)]


def _redis_ms(redis: Redis) -> int:
    seconds, microseconds = redis.time()
    return int(seconds) * 1000 + int(microseconds) // 1000

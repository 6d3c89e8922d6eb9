"""The tenants' rate limiter (imagegen.rate_limits) on a real Redis."""

from __future__ import annotations

import uuid

from redis import Redis

from imagegen.rate_limits import RateLimiter


def _tenant() -> str:
    return "t-" + uuid.uuid4().hex[:10]


def test_a_whole_minutes_worth_goes_at_once_and_no_more(redis_url):
    limiter, tenant = RateLimiter(Redis.from_url(redis_url)), _tenant()
    states = [limiter.check(tenant, "images", 10, cost=5) for _ in range(3)]
    assert [s.allowed for s in states] == [True, True, False]
    assert [s.remaining for s in states] == [5, 0, 0]
    # 5 more images fit once 5 of the 10 have been earned back, 6 s each.
    assert 29 <= states[2].retry_after_seconds <= 30
    assert 59 <= states[1].reset_seconds <= 60


def test_a_refused_check_spends_nothing(redis_url):
    limiter, tenant = RateLimiter(Redis.from_url(redis_url)), _tenant()
    assert limiter.check(tenant, "images", 10, cost=8).allowed
    assert not limiter.check(tenant, "images", 10, cost=3).allowed
    assert limiter.check(tenant, "images", 10, cost=2).allowed  # the refused 3 were not taken


def test_policies_and_tenants_are_counted_apart(redis_url):
    limiter, tenant = RateLimiter(Redis.from_url(redis_url)), _tenant()
    assert limiter.check(tenant, "requests", 1).allowed
    assert not limiter.check(tenant, "requests", 1).allowed
    assert limiter.check(tenant, "images", 1).allowed
    assert limiter.check(_tenant(), "requests", 1).allowed


def test_without_redis_requests_are_admitted():
    limiter = RateLimiter(Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1))
    state = limiter.check(_tenant(), "requests", 1)
    assert state.allowed and state.remaining == 1

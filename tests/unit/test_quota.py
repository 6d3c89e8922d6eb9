"""The shared model budget (imagegen.quota) against a real Redis: GCRA pacing, atomicity
under concurrent callers in several processes, and the AIMD rate it learns."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from rq.utils import as_text

from imagegen.jobqueue import CANCEL_KEY_PREFIX
from imagegen.quota import (
    DECREASE_COOLDOWN_MS,
    DECREASE_FACTOR,
    INCREASE_PER_CALL,
    LEARNING_START_RPM,
    MIN_RPM,
    SLOW_START_INCREASE_PER_CALL,
    TURN_LOOKAHEAD_MS,
    Grant,
    ModelQuotas,
    ParkedTurn,
    ProviderBudget,
    parse_quotas,
    rank,
)

MODEL = "stability.stable-diffusion-xl-v1"


@pytest.fixture
def make_budget(redis_url: str) -> Callable[..., ProviderBudget]:
    """Budgets in a region of the test's own, so tests never share one."""
    region = f"test-{uuid.uuid4().hex}"

    def make(
        quotas: dict[str, int] | None = None,
        default: int | None = None,
        deadline: float | None = None,
    ) -> ProviderBudget:
        return ProviderBudget(
            Redis.from_url(redis_url), region, ModelQuotas(quotas or {}, default), deadline
        )

    return make


def test_calls_are_spaced_by_the_quota(make_budget):
    budget = make_budget({MODEL: 600})  # one call every 100 ms
    assert budget.try_acquire(MODEL).granted
    refused = budget.try_acquire(MODEL)
    assert not refused.granted
    assert 0 < refused.wait_seconds <= 0.1
    time.sleep(refused.wait_seconds + 0.01)
    assert budget.try_acquire(MODEL).granted


def test_models_and_regions_have_budgets_of_their_own(make_budget, redis_url):
    budget = make_budget({MODEL: 1}, default=1)
    assert budget.try_acquire(MODEL).granted
    assert not budget.try_acquire(MODEL).granted
    assert budget.try_acquire("amazon.nova-canvas-v1:0").granted
    elsewhere = ProviderBudget(
        Redis.from_url(redis_url), "us-west-2-" + uuid.uuid4().hex, ModelQuotas({MODEL: 1}, None)
    )
    assert elsewhere.try_acquire(MODEL).granted


def _hammer(redis_url: str, region: str, seconds: float, results: multiprocessing.Queue) -> None:
    budget = ProviderBudget(Redis.from_url(redis_url), region, ModelQuotas({MODEL: 1200}, None))
    turns = []
    started = time.time()
    while time.time() < started + seconds:
        grant = budget.try_acquire(MODEL)
        if grant.granted:
            turns.append(time.time() + grant.wait_seconds)  # when the call may go
    results.put((turns, started, time.time()))


def test_concurrent_callers_in_several_processes_share_one_budget(redis_url):
    """6 processes spinning on the budget for 2 s at 1200 a minute (one per 50 ms): together
    they get the 40 the rate allows, give or take the edges, never 6 x 40."""
    region = f"test-{uuid.uuid4().hex}"
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()
    processes = [
        context.Process(target=_hammer, args=(redis_url, region, 2.0, results)) for _ in range(6)
    ]
    for process in processes:
        process.start()
    answers = [results.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(timeout=10)
    turns = sorted(turn for process_turns, _, _ in answers for turn in process_turns)
    # The turns granted are one per 50 ms between the first and the last, whichever process
    # asked: counted on when each call may go (a turn due within the lookahead is granted
    # early), with 20 ms for this machine's delay in reading the clock after each answer.
    assert 2.0 / 0.05 * 0.8 <= len(turns) <= (turns[-1] - turns[0] + 0.02) / 0.05 + 1
    span = max(end for _, _, end in answers) - min(start for _, start, _ in answers)
    assert turns[-1] - turns[0] <= span + TURN_LOOKAHEAD_MS / 1000


def test_a_throttle_cuts_the_rate_once_per_cooldown(make_budget):
    budget = make_budget({MODEL: 600})
    budget.try_acquire(MODEL)
    assert budget.throttled(MODEL) == pytest.approx(600 * DECREASE_FACTOR)
    # The other calls in flight come back throttled together: no further cut.
    assert budget.throttled(MODEL) == pytest.approx(600 * DECREASE_FACTOR)
    time.sleep(DECREASE_COOLDOWN_MS / 1000 + 0.05)
    assert budget.throttled(MODEL) == pytest.approx(600 * DECREASE_FACTOR**2)


def test_a_throttle_pauses_the_next_call(make_budget):
    budget = make_budget({MODEL: 600})
    assert budget.try_acquire(MODEL).granted
    time.sleep(0.15)
    assert budget.try_acquire(MODEL) == Grant(True, 0.0, 600.0)  # 100 ms apart at 600 a minute
    time.sleep(0.15)
    budget.throttled(MODEL)
    assert not budget.try_acquire(MODEL).granted  # one new interval from now: 111 ms


def test_a_turn_due_within_the_lookahead_is_granted_to_wait_for(make_budget):
    """At 1200 a minute a turn comes every 50 ms: the next is granted at once, to be used
    when it is due; the one after is not due within the lookahead, so it is not granted."""
    budget = make_budget({MODEL: 1200})
    assert budget.try_acquire(MODEL) == Grant(True, 0.0, 1200.0)
    reserved = budget.try_acquire(MODEL)
    assert reserved.granted
    assert 0 < reserved.wait_seconds <= 0.05
    refused = budget.try_acquire(MODEL)
    assert not refused.granted
    # It may ask again once that turn is within the lookahead: about 100 - 50 ms from now.
    assert 0 < refused.wait_seconds <= TURN_LOOKAHEAD_MS / 1000


def test_success_raises_the_rate_up_to_the_configured_quota(make_budget):
    budget = make_budget({MODEL: 600})
    budget.throttled(MODEL)
    cut = 600 * DECREASE_FACTOR
    assert budget.succeeded(MODEL) == pytest.approx(cut + INCREASE_PER_CALL)
    for _ in range(2000):  # far more than enough to climb back
        budget.succeeded(MODEL)
    assert budget.rate(MODEL) == pytest.approx(600)


def test_the_rate_never_drops_below_the_minimum(make_budget, redis_url):
    budget = make_budget({MODEL: 2})
    redis = Redis.from_url(redis_url)
    for _ in range(20):
        redis.hdel(budget.key(MODEL), "cut_at")  # as if the cooldown had passed
        budget.throttled(MODEL)
    assert budget.rate(MODEL) == pytest.approx(MIN_RPM)


def test_an_unconfigured_model_starts_at_the_learning_rate_and_learns_down(make_budget, redis_url):
    budget = make_budget()
    assert budget.try_acquire(MODEL).rate_per_minute == pytest.approx(LEARNING_START_RPM)
    assert budget.throttled(MODEL) == pytest.approx(LEARNING_START_RPM * DECREASE_FACTOR)
    # Unconfigured, growth is not capped at the starting rate.
    Redis.from_url(redis_url).hset(budget.key(MODEL), "rate", str(LEARNING_START_RPM))
    assert budget.succeeded(MODEL) > LEARNING_START_RPM


def test_an_unconfigured_rate_grows_fast_until_the_first_throttle(make_budget):
    """Slow start: one call a minute more per call until the provider first throttles, so
    the rate doubles within about a minute's calls; after a throttle, 0.05 per call."""
    budget = make_budget()
    for _ in range(120):
        rate = budget.succeeded(MODEL)
    assert rate == pytest.approx(LEARNING_START_RPM + 120 * SLOW_START_INCREASE_PER_CALL)
    cut = budget.throttled(MODEL)
    assert budget.succeeded(MODEL) == pytest.approx(cut + INCREASE_PER_CALL)


def test_a_lower_configured_quota_caps_a_rate_learned_before(make_budget):
    make_budget({MODEL: 600}).try_acquire(MODEL)
    # The same region's budget, read by a worker configured with a lower quota.
    assert make_budget({MODEL: 60}).try_acquire(MODEL).rate_per_minute == pytest.approx(60)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("stability.stable-diffusion-xl-v1=120", {MODEL: 120}),
        (" a=1 , amazon.nova-canvas-v1:0=100 ,", {"a": 1, "amazon.nova-canvas-v1:0": 100}),
    ],
)
def test_quotas_parse(text, expected):
    assert parse_quotas(text) == expected


@pytest.mark.parametrize("text", ["sdxl", "=5", "a=", "a=0", "a=-1", "a=1.5", "a=١٢"])
def test_malformed_quotas_are_refused(text):
    with pytest.raises(ValueError):
        parse_quotas(text)


def test_a_cut_keeps_most_of_what_the_provider_admitted_last_minute(make_budget, redis_url):
    """A rolling-minute quota refuses everything once spent, so throttles keep coming for
    up to a minute; cuts stop at 95 % of what was admitted instead of sinking to the floor."""
    budget = make_budget({MODEL: 6000})
    for _ in range(120):
        budget.succeeded(MODEL)
    redis = Redis.from_url(redis_url)
    for _ in range(50):
        redis.hdel(budget.key(MODEL), "cut_at")  # as if the cooldown had passed
        rate = budget.throttled(MODEL)
    # 50 cuts of 10 % would take 6000 to 31; what was admitted holds it at 0.95 x 120.
    assert rate == pytest.approx(0.95 * 120)


def test_cuts_hold_at_what_was_admitted_in_the_last_60_seconds(make_budget, redis_url):
    """A burst spends a rolling-minute quota in its first seconds and the provider refuses
    calls until they are a minute old: 50 s later the burst still counts whole, whichever
    clock minute it fell in, and calls older than 60 s no longer count."""
    budget = make_budget({MODEL: 6000})
    redis = Redis.from_url(redis_url)
    second = int(redis.time()[0])
    # 119 calls 50 s ago, and 1000 more than a minute ago (one bucket per second of the
    # minute, "second:count"), then one now.
    redis.hset(budget.key(MODEL), f"b{(second - 50) % 60}", f"{second - 50}:119")
    redis.hset(budget.key(MODEL), f"b{(second - 61) % 60}", f"{second - 61}:1000")
    budget.succeeded(MODEL)
    for _ in range(50):
        redis.hdel(budget.key(MODEL), "cut_at")
        rate = budget.throttled(MODEL)
    assert rate == pytest.approx(0.95 * 120)


# --- parked jobs: waiting without a slot, by priority ----------------------------------------


def _parked(budget: ProviderBudget) -> list[str]:
    """The model's parked jobs, the next to go first, as Redis holds them."""
    members = budget._redis.zrange(budget.parked_key(MODEL), 0, -1)
    return [as_text(member) for member in members]


def _accepted(second: int) -> datetime:
    return datetime(2026, 12, 3, 8, 0, second, tzinfo=UTC)


def test_rank_orders_by_priority_then_by_acceptance():
    ranks = [
        rank(9, _accepted(5)),
        rank(9, _accepted(6)),
        rank(5, _accepted(1)),
        rank(1, _accepted(0)),
    ]
    assert ranks == sorted(ranks)
    assert rank(10, _accepted(59)) < rank(9, _accepted(0))


def test_parked_jobs_get_turns_best_ranked_first(make_budget):
    budget = make_budget({MODEL: 600})  # a turn every 100 ms
    assert budget.try_acquire(MODEL).granted  # the budget is spent for 100 ms
    budget.park(MODEL, "job_low", rank(1, _accepted(0)))
    budget.park(MODEL, "job_high_late", rank(9, _accepted(2)))
    budget.park(MODEL, "job_high_early", rank(9, _accepted(1)))
    assert budget.parked_models() == [MODEL]
    assert _parked(budget) == ["job_high_early", "job_high_late", "job_low"]

    not_yet = budget.take_parked(MODEL)
    assert isinstance(not_yet, Grant) and not not_yet.granted
    assert 0 < not_yet.wait_seconds <= 0.1
    taken = []
    while len(taken) < 3:
        turn = budget.take_parked(MODEL)
        if isinstance(turn, ParkedTurn):
            taken.append(turn.job_id)
        else:
            assert isinstance(turn, Grant)
            time.sleep(turn.wait_seconds)
    assert taken == ["job_high_early", "job_high_late", "job_low"]
    # Nothing parked any more: the model leaves the set the runners look at.
    assert budget.take_parked(MODEL) is None
    assert budget.parked_models() == []


def test_a_turn_given_back_goes_to_the_next_caller(make_budget):
    """A parked job taken with its turn whose tenant has no free slot gives the turn back."""
    budget = make_budget({MODEL: 60})  # a turn a second
    assert budget.try_acquire(MODEL).granted
    budget.park(MODEL, "job_of_a_busy_tenant", rank(5, _accepted(0)))
    time.sleep(1.0)
    turn = budget.take_parked(MODEL)
    assert isinstance(turn, ParkedTurn) and turn.job_id == "job_of_a_busy_tenant"
    assert not budget.try_acquire(MODEL).granted
    budget.give_back(MODEL)
    assert budget.try_acquire(MODEL).granted
    assert not budget.try_acquire(MODEL).granted  # one turn given back, not more


def test_a_waiting_call_gives_way_to_a_better_ranked_parked_job(make_budget):
    budget = make_budget({MODEL: 6000})  # a turn every 10 ms
    budget.park(MODEL, "job_urgent", rank(9, _accepted(0)))
    time.sleep(0.02)
    # A priority-1 job's call waits: the turn is the parked priority-9 job's.
    behind = budget.try_acquire(MODEL, rank(1, _accepted(0)))
    assert not behind.granted and behind.wait_seconds > 0
    # A call ranked before every parked job goes, and so does one with no place in line.
    assert budget.try_acquire(MODEL, rank(10, _accepted(0))).granted
    time.sleep(0.02)
    assert budget.try_acquire(MODEL).granted
    time.sleep(0.02)
    turn = budget.take_parked(MODEL)
    assert isinstance(turn, ParkedTurn) and turn.job_id == "job_urgent"
    time.sleep(0.02)
    assert budget.try_acquire(MODEL, rank(1, _accepted(0))).granted


def test_the_models_description_counts_the_waiting_jobs(make_budget):
    budget = make_budget({MODEL: 60})
    assert budget.try_acquire(MODEL).granted
    for index in range(3):
        budget.park(MODEL, f"job_{index}", rank(5, _accepted(index)))
    described = budget.describe([MODEL, "amazon.nova-canvas-v1:0"])
    assert described[MODEL] == {
        "requests_per_minute": 60,
        "current_per_minute": 60.0,
        "waiting_jobs": 3,
        "estimated_wait_seconds": 3.0,  # one turn a second
    }
    assert described["amazon.nova-canvas-v1:0"]["waiting_jobs"] == 0
    assert described["amazon.nova-canvas-v1:0"]["estimated_wait_seconds"] is None


def test_cancelled_parked_jobs_leave_the_line_without_spending_a_turn(make_budget, redis_url):
    budget = make_budget({MODEL: 60})
    redis = Redis.from_url(redis_url)
    cancelled = [f"job_cancelled_{uuid.uuid4().hex}" for _ in range(3)]
    for index, job_id in enumerate(cancelled):
        budget.park(MODEL, job_id, rank(9, _accepted(index)))
        redis.set(CANCEL_KEY_PREFIX + job_id, "1", ex=60)
    budget.park(MODEL, "job_kept", rank(1, _accepted(0)))
    turn = budget.take_parked(MODEL)
    assert isinstance(turn, ParkedTurn) and turn.job_id == "job_kept"
    assert budget.take_parked(MODEL) is None


def test_parked_jobs_past_their_deadline_are_taken_to_fail_without_a_turn(make_budget):
    budget = make_budget({MODEL: 1}, deadline=3600)  # a turn a minute, an hour to wait
    assert budget.try_acquire(MODEL).granted  # no turn for a minute
    now = datetime.now(UTC)
    budget.park(MODEL, "job_new_urgent", rank(10, now))
    budget.park(MODEL, "job_old_low", rank(1, now - timedelta(seconds=3601)))
    budget.park(MODEL, "job_old_mid", rank(5, now - timedelta(seconds=7200)))
    budget.park(MODEL, "job_nearly_old_low", rank(1, now - timedelta(seconds=3590)))

    taken = [budget.take_parked(MODEL) for _ in range(2)]

    assert all(isinstance(turn, ParkedTurn) and turn.expired for turn in taken)
    assert {turn.job_id for turn in taken} == {"job_old_low", "job_old_mid"}  # type: ignore[union-attr]
    # The others still wait for their turns, and the budget was not spent on the expired.
    later = budget.take_parked(MODEL)
    assert isinstance(later, Grant) and not later.granted and later.wait_seconds > 50
    assert _parked(budget) == ["job_new_urgent", "job_nearly_old_low"]


def test_without_a_deadline_parked_jobs_wait_for_their_turn(make_budget):
    budget = make_budget({MODEL: 1})
    assert budget.try_acquire(MODEL).granted
    budget.park(MODEL, "job_old", rank(1, datetime.now(UTC) - timedelta(days=2)))

    waiting = budget.take_parked(MODEL)

    assert isinstance(waiting, Grant) and not waiting.granted
    assert _parked(budget) == ["job_old"]


def test_a_parked_job_knows_its_place_and_when_its_turn_comes(make_budget):
    budget = make_budget({MODEL: 60})
    assert budget.try_acquire(MODEL).granted
    budget.park(MODEL, "job_later", rank(5, _accepted(3)))
    budget.park(MODEL, "job_first", rank(5, _accepted(1)))
    budget.park(MODEL, "job_urgent", rank(9, _accepted(5)))

    assert budget.place(MODEL, "job_later") == {
        "model": MODEL,
        "requests_per_minute": 60,
        "current_per_minute": 60.0,
        "jobs_ahead": 2,
        "estimated_wait_seconds": 3.0,  # one turn a second, two before its own
    }
    assert budget.place(MODEL, "job_urgent")["jobs_ahead"] == 0  # type: ignore[index]
    assert budget.place(MODEL, "job_not_parked") is None

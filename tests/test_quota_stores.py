"""Both quota stores, case by case, on the same clock: the in-process one (as installed, compiled
where there is a C compiler, and from its Python source: tests/compiled.py) and the real Redis at
127.0.0.1:6379. Each test uses principals of its own, so runs never share a count."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from app.quotas.limits import Decision, Limits, Need
from app.quotas.memory import MemoryStore
from app.quotas.redis_store import RedisStore
from tests.compiled import from_source

REDIS_URL = "redis://127.0.0.1:6379/0"
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC).timestamp()
NOTHING: Need = (0, 0.0)
Store = MemoryStore | RedisStore


@pytest.fixture(params=["memory", "memory-source", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "memory-source":
        source: MemoryStore = from_source("app/quotas/memory.py").MemoryStore()
        yield source
        return
    client = Redis.from_url(REDIS_URL)
    try:
        yield RedisStore(client)
    finally:
        await client.aclose()


def user() -> str:
    return f"user-{uuid.uuid4().hex[:10]}"


async def admit(
    store: Store, key: str, limits: Limits, now: float, need: Need = NOTHING, held: str = ""
) -> Decision:
    return await store.admit(key, limits, need, held or uuid.uuid4().hex, now, 900.0)


async def test_requests_per_minute_are_exact_at_the_edge(store: Store) -> None:
    key, limits = user(), Limits(rpm=3)
    for n in range(3):
        decision = await admit(store, key, limits, T0)
        assert decision.admitted
        assert decision.standing is not None
        assert decision.standing.remaining == 2 - n
    refused = await admit(store, key, limits, T0)
    assert not refused.admitted
    assert refused.standing is not None
    assert refused.standing.kind == "rpm"
    assert refused.standing.reset_s == pytest.approx(20.0)
    assert not (await admit(store, key, limits, T0 + 19.999)).admitted
    assert (await admit(store, key, limits, T0 + 20.0)).admitted
    assert not (await admit(store, key, limits, T0 + 20.0)).admitted
    # A quiet minute refills the whole burst.
    for _ in range(3):
        assert (await admit(store, key, limits, T0 + 100.0)).admitted


async def test_calls_in_flight_are_limited_until_settled(store: Store) -> None:
    key, limits = user(), Limits(concurrent=2)
    assert (await admit(store, key, limits, T0, held="a")).admitted
    assert (await admit(store, key, limits, T0, held="b")).admitted
    refused = await admit(store, key, limits, T0, held="c")
    assert not refused.admitted
    assert refused.standing is not None
    assert refused.standing.kind == "concurrent"
    await store.settle(key, "a", 0, 0.0, T0 + 1)
    assert (await admit(store, key, limits, T0 + 1, held="c")).admitted
    # Another principal has its own count.
    assert (await admit(store, user(), limits, T0)).admitted


async def test_a_reservation_never_settled_expires(store: Store) -> None:
    key, limits = user(), Limits(concurrent=1)
    assert (await store.admit(key, limits, NOTHING, "lost", T0, 10.0)).admitted
    assert not (await admit(store, key, limits, T0 + 9.9)).admitted
    assert (await admit(store, key, limits, T0 + 10.0)).admitted


async def test_tokens_per_day_hold_the_worst_case_then_the_real_use(store: Store) -> None:
    key, limits = user(), Limits(tokens_per_day=100)
    assert (await admit(store, key, limits, T0, (60, 0.0), "a")).admitted
    refused = await admit(store, key, limits, T0, (50, 0.0))
    assert not refused.admitted
    assert refused.standing is not None
    assert (refused.standing.kind, refused.standing.remaining) == ("tokens_per_day", 40)
    assert refused.standing.reset_s == pytest.approx(12 * 3600)
    await store.settle(key, "a", 10, 0.0, T0 + 1)
    admitted = await admit(store, key, limits, T0 + 2, (50, 0.0))
    assert admitted.standing is not None
    assert admitted.standing.remaining == 40
    # The next UTC day starts from nothing.
    assert (await admit(store, key, limits, T0 + 12 * 3600, (100, 0.0))).admitted


async def test_spend_per_day_and_per_month(store: Store) -> None:
    key, limits = user(), Limits(usd_per_day=1.0, usd_per_month=1.5)
    assert (await admit(store, key, limits, T0, (0, 0.9), "a")).admitted
    refused = await admit(store, key, limits, T0, (0, 0.2))
    assert refused.standing is not None
    assert (refused.admitted, refused.standing.kind) == (False, "usd_per_day")
    await store.settle(key, "a", 0, 0.75, T0)
    assert (await admit(store, key, limits, T0, (0, 0.25), "b")).admitted  # exactly 1.0
    await store.settle(key, "b", 0, 0.25, T0)
    tomorrow = T0 + 24 * 3600
    refused = await admit(store, key, limits, tomorrow, (0, 0.6))
    assert refused.standing is not None
    assert (refused.admitted, refused.standing.kind) == (False, "usd_per_month")
    assert refused.standing.remaining == pytest.approx(0.5)
    next_month = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    assert (await admit(store, key, limits, next_month, (0, 1.0))).admitted


async def test_the_tightest_limit_is_the_one_reported(store: Store) -> None:
    key, limits = user(), Limits(rpm=100, concurrent=2, tokens_per_day=1000)
    decision = await admit(store, key, limits, T0, (10, 0.0))
    assert decision.standing is not None
    assert (decision.standing.kind, decision.standing.remaining) == ("concurrent", 1)


async def test_no_limits_admit_everything(store: Store) -> None:
    decision = await admit(store, user(), Limits(), T0, (10**9, 10.0**6))
    assert decision.admitted
    assert decision.standing is None


async def test_standing_shows_every_limit_without_reserving(store: Store) -> None:
    key = user()
    limits = Limits(rpm=10, concurrent=3, tokens_per_day=1000, usd_per_day=2.0, usd_per_month=5.0)
    assert (await admit(store, key, limits, T0, (100, 0.5), "a")).admitted
    await store.settle(key, "a", 40, 0.25, T0)
    assert (await admit(store, key, limits, T0, (100, 0.5), "b")).admitted
    first = await store.standing(key, limits, T0)
    again = await store.standing(key, limits, T0)
    assert first == again  # reading reserves nothing
    by_kind = {s.kind: s for s in first}
    assert by_kind["concurrent"].remaining == 2  # "b" is in flight
    assert by_kind["rpm"].remaining == 8
    assert by_kind["rpm"].reset_s == pytest.approx(12.0)
    assert by_kind["tokens_per_day"].remaining == 1000 - 40 - 100
    assert by_kind["usd_per_day"].remaining == pytest.approx(2.0 - 0.25 - 0.5)
    assert by_kind["usd_per_month"].remaining == pytest.approx(5.0 - 0.25 - 0.5)
    assert by_kind["usd_per_month"].reset_s == pytest.approx(10.5 * 24 * 3600)
    assert await store.standing(user(), Limits(), T0) == []


async def test_a_limit_of_zero_refuses_every_call(store: Store) -> None:
    for limits in (Limits(rpm=0), Limits(concurrent=0), Limits(tokens_per_day=0)):
        decision = await admit(store, user(), limits, T0, (1, 0.0))
        assert not decision.admitted
        assert decision.standing is not None
        assert decision.standing.limit == 0


async def test_a_spend_limit_of_zero_admits_a_call_that_costs_nothing(store: Store) -> None:
    # Within the stores' rounding tolerance (1e-9 USD) a call fits a limit of 0: it is the
    # tightest limit then, with nothing left, and no division by that limit fails.
    for need in ((1, 0.0), (1, 1e-10)):
        decision = await admit(store, user(), Limits(usd_per_day=0.0, rpm=10), T0, need)
        assert decision.admitted
        assert decision.standing is not None
        assert decision.standing.kind == "usd_per_day"
        assert decision.standing.remaining <= 0

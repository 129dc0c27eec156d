"""The upstream slots shared fairly between callers (issue 13, item 1): one caller's open calls
leave room for the others, a freed slot goes to the caller holding the fewest, and a wait that
ends (timeout, cancellation, a hand-over racing either) never leaks or loses a slot."""

import asyncio

import pytest

from app.upstream.slots import PoolBusyError, UpstreamSlots


async def take(slots: UpstreamSlots, caller: str, n: int) -> None:
    for _ in range(n):
        await slots.acquire(caller)


async def test_one_caller_alone_may_hold_all_but_the_fair_share() -> None:
    slots = UpstreamSlots(10, 0.05, fair_share=3)
    await take(slots, "a", 7)
    with pytest.raises(PoolBusyError):
        await slots.acquire("a")
    assert slots.held("a") == 7
    assert slots.timeouts == 1


async def test_a_newcomer_is_served_at_once_beside_a_caller_with_many_calls() -> None:
    # The report: a 10-connection pool, one user's 12 open streams, another user's call.
    slots = UpstreamSlots(10, 0.2)  # fair share unset: an eighth of 10, rounded up
    assert slots.fair_share == 2
    heavy = [asyncio.create_task(slots.acquire("a")) for _ in range(12)]
    await asyncio.sleep(0)
    assert slots.held("a") == 8
    for caller in ("b", "c"):
        async with asyncio.timeout(0.01):  # no wait at all
            await slots.acquire(caller)
    # The pool is full now; the heavy caller's waiting calls end busy, the slots held stay held.
    results = await asyncio.gather(*heavy, return_exceptions=True)
    assert sum(isinstance(r, PoolBusyError) for r in results) == 4
    assert (slots.held("a"), slots.held("b"), slots.held("c")) == (8, 1, 1)


async def test_a_freed_slot_goes_to_the_waiting_caller_holding_the_fewest() -> None:
    slots = UpstreamSlots(4, 5.0, fair_share=1)
    await take(slots, "a", 3)
    await slots.acquire("b")  # under its share: the last slot
    a_waits = asyncio.create_task(slots.acquire("a"))  # arrives first
    await asyncio.sleep(0)
    c_waits = asyncio.create_task(slots.acquire("c"))
    await asyncio.sleep(0)
    slots.release("a")
    await asyncio.sleep(0)
    assert c_waits.done()
    assert not a_waits.done()
    assert (slots.held("a"), slots.held("c")) == (2, 1)
    a_waits.cancel()


async def test_equal_callers_are_served_in_arrival_order() -> None:
    slots = UpstreamSlots(1, 5.0)
    await slots.acquire("x")
    order: list[str] = []

    async def wait(caller: str) -> None:
        await slots.acquire(caller)
        order.append(caller)

    tasks = [asyncio.create_task(wait(c)) for c in ("p", "q", "r")]
    await asyncio.sleep(0)
    for holder in ("x", "p", "q"):
        slots.release(holder)
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == ["p", "q", "r"]


async def test_a_cancelled_wait_leaves_no_trace() -> None:
    slots = UpstreamSlots(1, 5.0)
    await slots.acquire("a")
    waiting = asyncio.create_task(slots.acquire("b"))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    slots.release("a")
    assert slots.held("b") == 0
    async with asyncio.timeout(0.01):
        await slots.acquire("c")  # the one slot is free again


@pytest.mark.parametrize("released_first", [True, False])
async def test_a_waiter_cancelled_around_a_hand_over_leaves_the_slot_to_the_next(
    released_first: bool,
) -> None:
    """Released first: the slot is handed to b, which leaves before it runs and passes it on.
    Cancelled first: b has not run to forget its wait, and the hand-over skips it."""
    slots = UpstreamSlots(1, 5.0)
    await slots.acquire("a")
    b = asyncio.create_task(slots.acquire("b"))
    c = asyncio.create_task(slots.acquire("c"))
    await asyncio.sleep(0)
    if released_first:
        slots.release("a")
        b.cancel()
    else:
        b.cancel()
        slots.release("a")
    with pytest.raises(asyncio.CancelledError):
        await b
    async with asyncio.timeout(0.01):
        await c
    assert (slots.held("b"), slots.held("c")) == (0, 1)

"""Upstream connection slots: at most UPSTREAM_MAX_CONNECTIONS calls hold a connection at once,
shared fairly between callers, and a call waits at most UPSTREAM_POOL_TIMEOUT_S for its turn.

The wait is ours, not the transport's: inside aiohttp (and httpcore) the wait for a free pool
connection and the connect itself share one timeout and one error, so a healthy but busy
upstream read as "the upstream timed out" (504). Here a call that gets no slot in time is
`UpstreamFailure("busy")`, which both surfaces answer 503 with `Retry-After`; `timeouts` counts
them for the metrics to come.

Fair between callers (issue 13). A stream holds its slot for minutes and cannot be pre-empted,
so ordering the waiters alone would still leave a newcomer waiting behind one caller's open
streams. So: a caller holding UPSTREAM_FAIR_SHARE slots or more takes another only while as many
stay free, which keeps that many for the other callers; and a freed slot goes to the waiting
caller that holds the fewest (the earliest of its calls first), so light callers pass heavy ones
in the queue. Nothing is idle for it: a caller alone may still hold all but the fair share. The
caller is the principal id, which the pipeline puts in the request's access record
(app/access.py); upstream calls made outside any AI request run as the caller "".

A JSON call holds its slot until its answer is read; a stream holds it until the response is
closed (`SlotStream.aclose`), which the relay always does.
"""

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator

import httpx


class PoolBusyError(Exception):
    """No slot became free within the pool timeout."""


class UpstreamSlots:
    __slots__ = ("_free", "_held", "_waiting", "_order", "fair_share", "wait_s", "timeouts")

    def __init__(self, size: int, wait_s: float, fair_share: int | None = None) -> None:
        self._free = size
        self.fair_share = min(fair_share or -(-size // 8), size)  # unset: an eighth, rounded up
        self._held: dict[str, int] = {}
        # Per caller, its waiting calls in arrival order, each with its arrival number.
        self._waiting: dict[str, deque[tuple[int, asyncio.Future[None]]]] = {}
        self._order = itertools.count()
        self.wait_s = wait_s
        self.timeouts = 0

    def held(self, caller: str) -> int:
        return self._held.get(caller, 0)

    def _may_take(self, held: int) -> bool:
        return self._free > 0 and (held < self.fair_share or self._free > self.fair_share)

    async def acquire(self, caller: str) -> None:
        held = self._held.get(caller, 0)
        if self._may_take(held):
            # A free slot: no suspension, no timer. Nobody eligible is waiting, or the slot
            # would have been handed over when it was freed.
            self._free -= 1
            self._held[caller] = held + 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (next(self._order), granted)
        self._waiting.setdefault(caller, deque()).append(entry)
        try:
            async with asyncio.timeout(self.wait_s):
                await granted
        except BaseException as exc:  # a timeout, or the caller left while waiting
            if granted.done() and not granted.cancelled():
                self.release(caller)  # handed over just as the wait ended: pass it on
            else:
                self._forget(caller, entry)
            if isinstance(exc, TimeoutError):
                self.timeouts += 1
                raise PoolBusyError from None
            raise

    def release(self, caller: str) -> None:
        held = self._held[caller] - 1
        if held:
            self._held[caller] = held
        else:
            del self._held[caller]
        self._free += 1
        if self._waiting:
            self._hand_over()

    def hold_until_closed(self, resp: httpx.Response, caller: str) -> None:
        """Tie this call's slot to the stream of `resp`: it is freed when the stream closes."""
        stream = resp.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        resp.stream = SlotStream(stream, self, caller)

    def _hand_over(self) -> None:
        while self._free:
            best: tuple[int, int, str] | None = None
            for caller, queue in self._waiting.items():
                held = self._held.get(caller, 0)
                if self._may_take(held) and (best is None or (held, queue[0][0]) < best[:2]):
                    best = (held, queue[0][0], caller)
            if best is None:
                return
            caller = best[2]
            queue = self._waiting[caller]
            _, granted = queue.popleft()
            if not queue:
                del self._waiting[caller]
            if granted.done():
                continue  # its caller was cancelled and has not run yet to forget it
            self._free -= 1
            self._held[caller] = self._held.get(caller, 0) + 1
            granted.set_result(None)

    def _forget(self, caller: str, entry: tuple[int, asyncio.Future[None]]) -> None:
        queue = self._waiting.get(caller)
        if queue is not None and entry in queue:
            queue.remove(entry)
            if not queue:
                del self._waiting[caller]


class SlotStream(httpx.AsyncByteStream):
    """The transport's stream, unchanged for reading; closing it also frees the slot (once).
    It keeps the slots and the caller rather than a bound `release`: one object less per open
    stream."""

    __slots__ = ("_inner", "_slots", "_caller")

    def __init__(self, inner: httpx.AsyncByteStream, slots: UpstreamSlots, caller: str) -> None:
        self._inner = inner
        self._slots: UpstreamSlots | None = slots
        self._caller = caller

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._inner.__aiter__()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            slots, self._slots = self._slots, None
            if slots is not None:
                slots.release(self._caller)

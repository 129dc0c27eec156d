"""Upstream connection slots: at most UPSTREAM_MAX_CONNECTIONS calls hold a connection at once,
and a call waits at most UPSTREAM_POOL_TIMEOUT_S for its turn.

The wait is ours, not the transport's: inside aiohttp (and httpcore) the wait for a free pool
connection and the connect itself share one timeout and one error, so a healthy but busy
upstream read as "the upstream timed out" (504). Here a call that gets no slot in time is
`UpstreamFailure("busy")`, which both surfaces answer 503 with `Retry-After`; `timeouts` counts
them for the metrics to come. Waiters are served in arrival order (asyncio.Semaphore is FIFO).

A JSON call holds its slot until its answer is read; a stream holds it until the response is
closed (`SlotStream.aclose`), which the relay always does.
"""

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx


class PoolBusyError(Exception):
    """No slot became free within the pool timeout."""


class UpstreamSlots:
    __slots__ = ("_free", "wait_s", "timeouts")

    def __init__(self, size: int, wait_s: float) -> None:
        self._free = asyncio.Semaphore(size)
        self.wait_s = wait_s
        self.timeouts = 0

    async def acquire(self) -> None:
        if not self._free.locked():
            await self._free.acquire()  # a free slot: no suspension, no timer
            return
        try:
            async with asyncio.timeout(self.wait_s):
                await self._free.acquire()
        except TimeoutError:
            self.timeouts += 1
            raise PoolBusyError from None

    def release(self) -> None:
        self._free.release()

    def hold_until_closed(self, resp: httpx.Response) -> None:
        """Tie this call's slot to the stream of `resp`: it is freed when the stream closes."""
        stream = resp.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        resp.stream = SlotStream(stream, self.release)


class SlotStream(httpx.AsyncByteStream):
    """The transport's stream, unchanged for reading; closing it also frees the slot (once)."""

    __slots__ = ("_inner", "_release")

    def __init__(self, inner: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._inner.__aiter__()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()

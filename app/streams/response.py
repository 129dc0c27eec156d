"""The downstream Server-Sent Events response, written from the request's own task.

- One watcher task waits for `http.disconnect`; when the caller goes away it cancels the body,
  whose generator then closes the upstream at once (its `finally`).
- During silences a `: ping` comment goes out every `ping_s`, so proxies keep the stream open;
  one timer per event loop looks after every stream's pings (`_Pinger`).
- Every write is bounded by `send_timeout_s`, so a caller who stopped reading cannot pin the
  stream (and its upstream) in memory: the stream is dropped and the upstream closed.
- `on_close` is called once the response is over, however it ended (the pipeline's record stage).
Shutdown is not handled here: `ShutdownCoordinator` ends streams with an error event.

Frames are built here too, as bytes: `data: <json>` and a blank line (JSON from orjson never
holds a raw line break); text that may hold one is split per the spec.

Deliberate departure from sse-starlette, which DESIGN names: its four tasks per stream were the
largest part of a held stream's CPU and memory (docs/architecture.md has the figures).
"""

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Callable

import orjson
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

log = logging.getLogger("app.sse")

PING = b": ping\n\n"


def json_frame(obj: object) -> bytes:
    """One event whose data is `obj` as JSON (orjson escapes every line break inside strings)."""
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def text_frame(text: str) -> bytes:
    """One event whose data is `text`; each of its lines becomes a `data:` field."""
    if "\n" not in text and "\r" not in text:
        return b"data: " + text.encode() + b"\n\n"
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "".join(f"data: {line}\n" for line in lines).encode() + b"\n"


def _body(chunk: bytes, *, more: bool) -> Message:
    return {"type": "http.response.body", "body": chunk, "more_body": more}


class StalledReaderError(Exception):
    """A write blocked longer than the send timeout."""


class _Pinger:
    """Keep-alive comments for every open stream of one event loop, from one timer.

    A timer per stream (an `asyncio.timeout` around each stream's wait for a disconnect) was
    about half a kilobyte of every held stream, and CPU on every wake-up; one task that looks at
    every stream a few times per ping interval costs neither.
    """

    def __init__(self) -> None:
        self.streams: set[EventStream] = set()
        self._task: asyncio.Task[None] | None = None
        self._tick = 0.0

    def track(self, stream: "EventStream") -> None:
        self.streams.add(stream)
        # A silence of ping_s is answered within ping_s × 1.25. A stream that needs a shorter
        # tick than the running one (another app's settings, in tests) restarts the timer.
        tick = stream.ping_s / 4
        if self._task is None or self._task.done() or tick < self._tick:
            if self._task is not None:
                self._task.cancel()
            self._tick = tick
            self._task = asyncio.get_running_loop().create_task(self._run(tick))

    async def _run(self, tick: float) -> None:
        loop = asyncio.get_running_loop()
        while self.streams:
            await asyncio.sleep(tick)
            now = loop.time()
            for stream in self.streams:
                if now - stream.last_write >= stream.ping_s:
                    stream.ping()


_pingers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pinger]" = (
    weakref.WeakKeyDictionary()
)


def _pinger() -> _Pinger:
    loop = asyncio.get_running_loop()
    pinger = _pingers.get(loop)
    if pinger is None:
        pinger = _pingers[loop] = _Pinger()
    return pinger


class EventStream(Response):
    """A Response so routes can return it; it never holds a body of its own."""

    def __init__(
        self,
        events: AsyncIterator[bytes],
        *,
        raw_headers: list[tuple[bytes, bytes]],
        ping_s: float,
        send_timeout_s: float,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.events = events
        # Called once the response is over, however it ended (the pipeline's record stage).
        self.on_close = on_close
        self.finishes_call = on_close is not None
        self.status_code = 200
        self.background = None
        self.raw_headers = raw_headers
        self.ping_s = ping_s
        self.send_timeout_s = send_timeout_s
        self.last_write = 0.0
        self._gone = False
        self._send: Send | None = None
        self._body: asyncio.Task[None] | None = None
        self._ping: asyncio.Task[None] | None = None

    async def _write(self, send: Send, message: Message) -> None:
        # No lock between the body and a ping: the server writes each message whole, and
        # frames in either order are a valid stream.
        try:
            async with asyncio.timeout(self.send_timeout_s):
                await send(message)
        except TimeoutError:
            raise StalledReaderError from None
        self.last_write = asyncio.get_running_loop().time()

    def ping(self) -> None:
        """Write a keep-alive comment, unless one is still on its way."""
        if self._ping is None and self._send is not None:
            self._ping = asyncio.create_task(self._send_ping(self._send))

    async def _send_ping(self, send: Send) -> None:
        try:
            await self._write(send, _body(PING, more=True))
        except StalledReaderError:
            self._drop()
        finally:
            self._ping = None

    def _drop(self) -> None:
        """The caller left (or stopped reading): end the body, which closes the upstream."""
        self._gone = True
        if self._body is not None:
            self._body.cancel()

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._drop()

    def _stop_pings(self) -> None:
        _pinger().streams.discard(self)
        self._send = None
        if self._ping is not None:
            self._ping.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        except BaseException:
            if self.on_close is not None:
                self.on_close()
            raise
        self.last_write = asyncio.get_running_loop().time()
        self._body = asyncio.current_task()
        self._send = send
        watcher = asyncio.create_task(self._watch(receive))
        _pinger().track(self)
        try:
            async for chunk in self.events:
                await self._write(send, _body(chunk, more=True))
            self._stop_pings()  # nothing may follow the last message
            await self._write(send, _body(b"", more=False))
        except StalledReaderError:
            log.warning("dropped a stream whose reader stalled for %ss", self.send_timeout_s)
        except asyncio.CancelledError:
            if not self._gone:
                raise
            if self._body is not None:
                self._body.uncancel()  # our own cancellation: the caller left, nothing more to do
        finally:
            self._stop_pings()
            watcher.cancel()
            aclose = getattr(self.events, "aclose", None)
            try:
                if aclose is not None:
                    await aclose()
            finally:
                if self.on_close is not None:
                    self.on_close()

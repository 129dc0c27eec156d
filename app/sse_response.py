"""The downstream Server-Sent Events response: one helper task per stream, not four.

Deliberate departure from sse-starlette's `EventSourceResponse` (which DESIGN names, and which
this project used first): for every stream it runs an anyio task group of four tasks (the body,
pings, a disconnect listener, a shutdown listener) plus a cancel scope per write; in the profile
that was the largest share of a stream's CPU and of its memory (bench/README.md). Here the body
is written from the request's own task and one watcher task does the rest:
- it waits for `http.disconnect`; when the caller goes away it cancels the body, whose generator
  then closes the upstream at once (its `finally`);
- during silences it writes a `: ping` comment every `ping_s`, so proxies keep the stream open;
- every write is bounded by `send_timeout_s`, so a caller who stopped reading cannot pin the
  stream (and its upstream) in memory: the stream is dropped and the upstream closed.
Shutdown is not handled here: `ShutdownCoordinator` ends streams with an error event.

Frames are built here too, as bytes: `data: <json>` and a blank line. JSON from orjson never holds
a raw line break, so it needs none of the line splitting a general encoder (sse-starlette's
`ServerSentEvent`, used first) does for every event; text that may hold one is split per the spec.
"""

import asyncio
import logging
from collections.abc import AsyncIterator

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


class EventStream(Response):
    """A Response so routes can return it; it never holds a body of its own."""

    def __init__(
        self,
        events: AsyncIterator[bytes],
        *,
        raw_headers: list[tuple[bytes, bytes]],
        ping_s: float,
        send_timeout_s: float,
    ) -> None:
        self.events = events
        self.status_code = 200
        self.background = None
        self.raw_headers = raw_headers
        self.ping_s = ping_s
        self.send_timeout_s = send_timeout_s
        self._lock = asyncio.Lock()
        self._gone = False

    async def _write(self, send: Send, message: Message) -> None:
        async with self._lock:
            try:
                async with asyncio.timeout(self.send_timeout_s):
                    await send(message)
            except TimeoutError:
                raise StalledReaderError from None

    async def _watch(self, receive: Receive, send: Send, body: asyncio.Task[None]) -> None:
        ping = _body(PING, more=True)
        while True:
            try:
                # asyncio.timeout, not wait_for: no extra task per stream while it waits.
                async with asyncio.timeout(self.ping_s):
                    message = await receive()
            except TimeoutError:
                try:
                    await self._write(send, ping)
                except StalledReaderError:
                    self._gone = True
                    body.cancel()
                    return
                continue
            if message["type"] == "http.disconnect":
                self._gone = True
                body.cancel()
                return

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        body = asyncio.current_task()
        assert body is not None
        watcher = asyncio.create_task(self._watch(receive, send, body))
        try:
            async for chunk in self.events:
                await self._write(
                    send, {"type": "http.response.body", "body": chunk, "more_body": True}
                )
            await self._write(send, {"type": "http.response.body", "body": b"", "more_body": False})
        except StalledReaderError:
            log.warning("dropped a stream whose reader stalled for %ss", self.send_timeout_s)
        except asyncio.CancelledError:
            if not self._gone:
                raise
            body.uncancel()  # our own cancellation: the caller left, nothing more to do
        finally:
            watcher.cancel()
            aclose = getattr(self.events, "aclose", None)
            if aclose is not None:
                await aclose()

"""Relay an upstream chat stream to the caller as Server-Sent Events, for both surfaces.

Lifecycle (house style 7–9): every failure after the status is sent, even one before the first
byte, becomes one sanitized error event and the stream ends without `done`/`[DONE]`, which
follow only a real `[DONE]`. The upstream response is closed in `finally`, shielded, so a caller
who goes away (`app/streams/response.py` cancels the body) stops the upstream generation at once.
Frames are bytes from `app/streams/response.py` (`data: …` and `\\n\\n`, the legacy wire format byte
for byte); events that arrived in one upstream read leave in one write.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal, Protocol

import anyio
import httpx
import orjson

from app.access import access_var
from app.config import Settings
from app.streams.clock import FAULT_PREFIX, ShutdownCoordinator, StreamClock
from app.streams.decoder import SSEDecoder, SSEEvent
from app.streams.response import EventStream
from app.upstream.failures import UpstreamFailure, inband_failure
from app.usage import Usage

log = logging.getLogger("app.streams.relay")

DONE = "[DONE]"  # the upstream's last event, and ours on /api/v1 (one constant, one place)
StreamEnd = Literal["ok", "upstream_error", "stream_error", "timed_out", "cancelled"]
CLOSE_TIMEOUT_S = 1.0
TERMINATED = FAULT_PREFIX + "terminated"
MALFORMED = FAULT_PREFIX + "invalid data from the AI provider"


class StreamFault(Exception):
    """The upstream stream failed after it started; `message` is safe to show the caller."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.timed_out = timed_out


def _reads(resp: httpx.Response) -> AsyncIterator[bytes]:
    """The upstream body read by read. The transport's own stream is read directly: the stream
    was asked for with `Accept-Encoding: identity`, and `aiter_bytes` would add two async
    generators (held for the stream's life) and a decoding pass per read for nothing. A body
    that is encoded all the same is decoded by httpx."""
    stream = resp.stream
    if resp.headers.get("content-encoding", "identity") != "identity" or not isinstance(
        stream, httpx.AsyncByteStream
    ):
        return resp.aiter_bytes()
    return aiter(stream)


async def upstream_batches(
    resp: httpx.Response, clock: StreamClock
) -> AsyncIterator[list[SSEEvent]]:
    """The upstream's data events, read by read, under the clock's deadlines.

    Events that arrived in one read stay together, so the caller can answer them with one
    write: a burst costs one send instead of one per event, and nothing waits for it.
    """
    decoder = SSEDecoder()
    chunks = _reads(resp)
    access = access_var.get()  # told how long the reads waited (the gateway's overhead metric)
    while True:
        waiting = time.monotonic()
        try:
            async with asyncio.timeout_at(clock.deadline()) as timeout:
                clock.current = timeout
                chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise StreamFault(clock.expired_reason(), timed_out=True) from None
        except httpx.TransportError as err:
            log.warning("upstream stream broke: %s", type(err).__name__)
            raise StreamFault(TERMINATED) from err
        finally:
            clock.current = None
            if access is not None:
                access.upstream_s += time.monotonic() - waiting
        items = decoder.feed(chunk)
        if not items:
            continue
        # One clock update per read, not per event: a burst is one moment of activity.
        batch = [i for i in items if isinstance(i, SSEEvent) and i.event == "message"]
        clock.on_activity(data=bool(batch))
        if batch:
            yield batch


def parse_chunk(data: str) -> dict[str, Any]:
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise StreamFault(MALFORMED) from None
    if not isinstance(chunk, dict):
        raise StreamFault(MALFORMED)
    return chunk


class StreamTranslator(Protocol):
    """What a surface makes of the upstream stream's chunks, end and failures."""

    def chunk(self, chunk: dict[str, Any], raw: str) -> list[bytes]: ...
    def done(self) -> list[bytes]: ...
    def fault(self, message: str) -> bytes: ...
    def failure(self, failure: UpstreamFailure) -> bytes: ...


async def relay(
    open_upstream: Callable[[], Awaitable[httpx.Response]],
    clock: StreamClock,
    shutdown: ShutdownCoordinator,
    translator: StreamTranslator,
    secret: str,
    ending: "Ending | None" = None,
) -> AsyncIterator[bytes]:
    """The one relay loop both surfaces use; only the translator differs. `secret` is the key,
        scrubbed from an upstream error before the translator sees it; `ending` reads every chunk's
    usage as it passes and learns how the
        stream ended (a stream whose caller left never gets that far: "cancelled")."""
    shutdown.track(clock)
    resp: httpx.Response | None = None
    end: StreamEnd = "cancelled"
    read_chunk = ending.usage.read_chunk if ending is not None else None
    try:
        try:
            async with asyncio.timeout_at(clock.deadline()):
                resp = await open_upstream()
        except TimeoutError:
            end = "timed_out"
            yield translator.fault(clock.expired_reason())
            return
        except UpstreamFailure as failure:
            end = "timed_out" if failure.kind == "timeout" else "upstream_error"
            yield translator.failure(failure)
            return
        # The request body (the whole prompt) is not needed once the upstream has answered.
        del open_upstream
        done = False
        async for batch in upstream_batches(resp, clock):
            out: list[bytes] = []
            try:
                for event in batch:
                    if event.data == DONE:
                        done = True
                        break
                    chunk = parse_chunk(event.data)
                    if chunk.get("error"):
                        # Any data event with a truthy `error` is terminal (OpenRouter's
                        # mid-stream error: tests/routers/test_chat_stream_faults.py).
                        end = "upstream_error"
                        out.append(translator.failure(inband_failure(chunk, secret)))
                        yield b"".join(out)
                        return
                    if read_chunk is not None:
                        read_chunk(chunk)
                    out.extend(translator.chunk(chunk, event.data))
            except StreamFault as fault:
                end = "stream_error"
                out.append(translator.fault(fault.message))
                yield b"".join(out)
                return
            if out:
                yield b"".join(out)
            if done:
                break
        if not done:
            raise StreamFault(TERMINATED)
        end = "ok"
        yield b"".join(translator.done())
    except StreamFault as fault:
        end = "timed_out" if fault.timed_out else "stream_error"
        yield translator.fault(fault.message)
    finally:
        shutdown.forget(clock)
        if ending is not None:
            ending.end_stream(end)
        if resp is not None:
            with anyio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
                await resp.aclose()


SSE_HEADERS = (
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
)


class Ending(Protocol):
    """Who hears how a stream went (the pipeline's call): its `usage` reads each chunk,
    `end_stream` comes from the relay, then `close_stream` once the response is over, whatever
    happened."""

    @property
    def usage(self) -> Usage: ...
    def end_stream(self, kind: StreamEnd) -> None: ...
    def close_stream(self) -> None: ...


def sse_response(
    events: AsyncIterator[bytes],
    settings: Settings,
    ending: Ending | None = None,
    headers: dict[str, str] | None = None,
) -> EventStream:
    # The fixed headers are shared by every stream; only the caller's extra ones are built here.
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return EventStream(
        events,
        raw_headers=[*SSE_HEADERS, *extra],
        ping_s=settings.sse_ping_s,
        send_timeout_s=settings.sse_send_timeout_s,
        on_close=ending.close_stream if ending is not None else None,
    )

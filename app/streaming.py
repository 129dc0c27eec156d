"""Relay an upstream chat stream to the caller as Server-Sent Events, for both surfaces.

Lifecycle (house style 7–9): every failure after the status is sent, even one before the first
byte, becomes one sanitized error event and the stream ends without `done`/`[DONE]`, which
follow only a real `[DONE]`. The upstream response is closed in `finally`, shielded, so a caller
who goes away (`app/sse_response.py` cancels the body) stops the upstream generation at once.
Frames are bytes from `app/sse_response.py` (`data: …` and `\\n\\n`, the legacy wire format byte
for byte); events that arrived in one upstream read leave in one write.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import anyio
import httpx
import orjson

from app.config import Settings
from app.sse_decode import SSEDecoder, SSEEvent
from app.sse_response import EventStream, json_frame
from app.stream_clock import FAULT_PREFIX, ShutdownCoordinator, StreamClock
from app.translate_stream import LegacyStreamState
from app.upstream import UpstreamClient, UpstreamFailure
from app.upstream_errors import to_legacy_error

log = logging.getLogger("app.streaming")

DONE = "[DONE]"
CLOSE_TIMEOUT_S = 1.0
TERMINATED = FAULT_PREFIX + "terminated"
MALFORMED = FAULT_PREFIX + "invalid data from the AI provider"


class StreamFault(Exception):
    """The upstream stream failed after it started; `message` is safe to show the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def error_frame(message: str) -> bytes:
    return json_frame({"error": True, "message": message})


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
    while True:
        try:
            async with asyncio.timeout_at(clock.deadline()) as timeout:
                clock.current = timeout
                chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise StreamFault(clock.expired_reason()) from None
        except httpx.TransportError as err:
            log.warning("upstream stream broke: %s", type(err).__name__)
            raise StreamFault(TERMINATED) from err
        finally:
            clock.current = None
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
) -> AsyncIterator[bytes]:
    """The one relay loop both surfaces use; only the translator differs."""
    shutdown.track(clock)
    resp: httpx.Response | None = None
    try:
        try:
            async with asyncio.timeout_at(clock.deadline()):
                resp = await open_upstream()
        except TimeoutError:
            yield translator.fault(clock.expired_reason())
            return
        except UpstreamFailure as failure:
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
                        # Any data event with a truthy `error` is terminal (upstream §4.7).
                        out.append(translator.failure(UpstreamFailure("inband", payload=chunk)))
                        yield b"".join(out)
                        return
                    out.extend(translator.chunk(chunk, event.data))
            except StreamFault as fault:
                out.append(translator.fault(fault.message))
                yield b"".join(out)
                return
            if out:
                yield b"".join(out)
            if done:
                break
        if not done:
            raise StreamFault(TERMINATED)
        yield b"".join(translator.done())
    except StreamFault as fault:
        yield translator.fault(fault.message)
    finally:
        shutdown.forget(clock)
        if resp is not None:
            with anyio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
                await resp.aclose()


class LegacyTranslator:
    """The legacy events (§4f): chunk, tokenUsage, tool_calls, annotations, done; errors as
    `{"error":true,"message":…}` and no done."""

    __slots__ = ("_state", "_secret")

    def __init__(self, settings: Settings) -> None:
        self._state = LegacyStreamState()
        self._secret = settings.openrouter_api_key.get_secret_value()

    def chunk(self, chunk: dict[str, Any], raw: str) -> list[bytes]:  # noqa: ARG002
        return [json_frame(obj) for obj in self._state.on_chunk(chunk)]

    def done(self) -> list[bytes]:
        return [json_frame(obj) for obj in self._state.finish()]

    def fault(self, message: str) -> bytes:
        return error_frame(message)

    def failure(self, failure: UpstreamFailure) -> bytes:
        return error_frame(to_legacy_error(failure, self._secret).message)


def legacy_relay(
    upstream: UpstreamClient, body: dict[str, object], shutdown: ShutdownCoordinator
) -> AsyncIterator[bytes]:
    """The legacy stream: the upstream is opened inside, so even its refusal is an event."""
    clock = StreamClock(upstream.settings, shutdown)
    return relay(
        lambda: upstream.open_stream("chat/completions", body),
        clock,
        shutdown,
        LegacyTranslator(upstream.settings),
    )


SSE_HEADERS = (
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
)


def sse_response(
    events: AsyncIterator[bytes],
    settings: Settings,
    headers: dict[str, str] | None = None,
) -> EventStream:
    # The fixed headers are shared by every stream; only the caller's extra ones are built here.
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return EventStream(
        events,
        raw_headers=[*SSE_HEADERS, *extra],
        ping_s=settings.sse_ping_s,
        send_timeout_s=settings.sse_send_timeout_s,
    )

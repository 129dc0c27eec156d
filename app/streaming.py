"""Relay an upstream chat stream to the caller as the legacy route's Server-Sent Events.

Lifecycle (house style 7–9): the generator opens the upstream itself, so every failure, even
one before the first byte, becomes one sanitized `{"error":true,"message":…}` event and the
stream ends without `done`; `done` follows only a real `[DONE]`. The upstream response is
closed in `finally`, shielded, so a caller who goes away (sse-starlette cancels us) stops the
upstream generation at once. Frames are written by sse-starlette with `\\n` separators, which
is the legacy wire format byte for byte.
"""

import asyncio
import logging
from collections.abc import AsyncIterator

import anyio
import httpx
import orjson
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.types import Receive, Scope, Send

from app.config import Settings
from app.sse_decode import COMMENT, SSEDecoder, SSEEvent
from app.stream_clock import FAULT_PREFIX, ShutdownCoordinator, StreamClock
from app.translate_stream import LegacyStreamState
from app.upstream import UpstreamClient, UpstreamFailure
from app.upstream_errors import to_legacy_error

log = logging.getLogger("app.streaming")

DONE = "[DONE]"
CLOSE_TIMEOUT_S = 1.0
PING = ServerSentEvent(comment="ping", sep="\n")
TERMINATED = FAULT_PREFIX + "terminated"
MALFORMED = FAULT_PREFIX + "invalid data from the AI provider"


class StreamFault(Exception):
    """The upstream stream failed after it started; `message` is safe to show the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def frame(obj: object) -> ServerSentEvent:
    return ServerSentEvent(data=orjson.dumps(obj).decode(), sep="\n")


def error_frame(message: str) -> ServerSentEvent:
    return frame({"error": True, "message": message})


def legacy_message(failure: UpstreamFailure, settings: Settings) -> str:
    return to_legacy_error(failure, settings.openrouter_api_key.get_secret_value()).message


async def upstream_events(resp: httpx.Response, clock: StreamClock) -> AsyncIterator[SSEEvent]:
    """Data events of the upstream stream, under the clock's deadlines."""
    decoder = SSEDecoder()
    chunks = resp.aiter_bytes()
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
        for item in decoder.feed(chunk):
            if item is COMMENT:
                clock.on_activity(data=False)
            elif isinstance(item, SSEEvent) and item.event == "message":
                clock.on_activity(data=True)
                yield item


async def legacy_relay(
    upstream: UpstreamClient, body: dict[str, object], shutdown: ShutdownCoordinator
) -> AsyncIterator[ServerSentEvent]:
    settings = upstream.settings
    clock = StreamClock(settings, shutdown)
    shutdown.track(clock)
    resp: httpx.Response | None = None
    try:
        try:
            async with asyncio.timeout_at(clock.deadline()):
                resp = await upstream.open_stream("chat/completions", body)
        except TimeoutError:
            yield error_frame(clock.expired_reason())
            return
        except UpstreamFailure as failure:
            yield error_frame(legacy_message(failure, settings))
            return
        state = LegacyStreamState()
        done = False
        async for event in upstream_events(resp, clock):
            if event.data == DONE:
                done = True
                break
            try:
                chunk = orjson.loads(event.data)
            except orjson.JSONDecodeError:
                raise StreamFault(MALFORMED) from None
            if not isinstance(chunk, dict):
                raise StreamFault(MALFORMED)
            if chunk.get("error"):
                yield error_frame(
                    legacy_message(UpstreamFailure("inband", payload=chunk), settings)
                )
                return
            for obj in state.on_chunk(chunk):
                yield frame(obj)
        if not done:
            raise StreamFault(TERMINATED)
        for obj in state.finish():
            yield frame(obj)
    except StreamFault as fault:
        yield error_frame(fault.message)
    finally:
        shutdown.forget(clock)
        if resp is not None:
            with anyio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
                await resp.aclose()


class GatewayEventSource(EventSourceResponse):
    """An event stream that drops a caller who stopped reading, without a traceback.

    sse-starlette raises SendTimeoutError once a send blocks past `send_timeout` (after closing
    our generator, which closes the upstream); there is nothing left to tell that caller.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            log.warning("dropped a stream whose reader stalled for %ss", self.send_timeout)


def sse_response(events: AsyncIterator[ServerSentEvent], settings: Settings) -> EventSourceResponse:
    return GatewayEventSource(
        events,
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
        ping=settings.sse_ping_s,
        ping_message_factory=lambda: PING,
        sep="\n",
        send_timeout=settings.sse_send_timeout_s,
        # Our own grace (ShutdownCoordinator) ends streams with an error event first;
        # sse-starlette's force-cancel is only the backstop.
        shutdown_grace_period=settings.shutdown_grace_s + 2.0,
    )

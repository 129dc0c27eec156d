"""Stream lifecycle checks that need control of both ends: the ASGI app called directly, the
upstream faked at the transport (house style 11)."""

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import orjson

from app.main import create_app
from tests.factories import asgi_receive, asgi_scope, make_settings

BODY = orjson.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "Hi"}]})


class EndlessUpstream(httpx.AsyncByteStream):
    """An upstream that never stops talking, and remembers being closed."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            yield b'data: {"choices":[{"delta":{"content":"' + b"x" * 1000 + b'"}}]}\n\n'
            await asyncio.sleep(0)

    async def aclose(self) -> None:
        self.closed.set()


async def call_app(
    settings_overrides: dict[str, Any],
    upstream: httpx.AsyncByteStream,
    stall_after: int,
    sent: list[MutableMapping[str, Any]] | None = None,
) -> list[MutableMapping[str, Any]]:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=upstream)

    app = create_app(make_settings(**settings_overrides), transport=httpx.MockTransport(handler))
    sent = [] if sent is None else sent
    receive = asgi_receive(BODY)  # the caller never hangs up

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and len(sent) > stall_after:
            await asyncio.Event().wait()  # a reader that stopped reading

    async with app.router.lifespan_context(app) as state:
        scope = asgi_scope("POST", "/api/ai/chat/completion", state)
        await asyncio.wait_for(app(scope, receive, send), timeout=5)
    return sent


async def test_stalled_reader_is_dropped_and_upstream_closed() -> None:
    upstream = EndlessUpstream()
    sent = await call_app({"sse_send_timeout_s": 0.3}, upstream, stall_after=3)
    assert sent[0]["status"] == 200
    assert upstream.closed.is_set()


class PacedUpstream(httpx.AsyncByteStream):
    """One event, then one every `every_s`, or nothing more when it is None."""

    def __init__(self, every_s: float | None) -> None:
        self.every_s = every_s

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            yield b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n'
            if self.every_s is None:
                await asyncio.Event().wait()
            await asyncio.sleep(self.every_s or 0)


async def pings_received(every_s: list[float | None], run_s: float) -> list[int]:
    """Streams open side by side for `run_s`: the `: ping` writes each one received."""
    sent: list[list[MutableMapping[str, Any]]] = [[] for _ in every_s]
    tasks = [
        asyncio.create_task(call_app({"sse_ping_s": 0.1}, PacedUpstream(every), 10**9, log))
        for every, log in zip(every_s, sent, strict=True)
    ]
    done, _ = await asyncio.wait(tasks, timeout=run_s)
    assert not done  # every stream was still open
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return [sum(m.get("body") == b": ping\n\n" for m in log) for log in sent]


async def test_every_silent_stream_is_pinged_and_a_busy_one_is_not() -> None:
    # One timer serves all open streams; a ping goes out only after ping_s of silence.
    silent_a, silent_b, busy = await pings_received([None, None, 0.02], run_s=0.8)
    assert silent_a >= 4
    assert silent_b >= 4
    assert busy == 0

"""Stream lifecycle checks that need control of both ends: the ASGI app called directly, the
upstream faked at the transport (house style 11)."""

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import orjson

from app.main import create_app
from tests.factories import make_settings, make_token

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
    settings_overrides: dict[str, Any], upstream: EndlessUpstream, stall_after: int
) -> list[MutableMapping[str, Any]]:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=upstream)

    app = create_app(make_settings(**settings_overrides), transport=httpx.MockTransport(handler))
    sent: list[MutableMapping[str, Any]] = []
    request_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await asyncio.Event().wait()  # the caller never hangs up
        raise AssertionError("unreachable")

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and len(sent) > stall_after:
            await asyncio.Event().wait()  # a reader that stopped reading

    headers = [
        (b"authorization", f"Bearer {make_token()}".encode()),
        (b"content-type", b"application/json"),
    ]
    async with app.router.lifespan_context(app) as state:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/ai/chat/completion",
            "raw_path": b"/api/ai/chat/completion",
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 2),
            "state": dict(state or {}),
        }
        await asyncio.wait_for(app(scope, receive, send), timeout=5)
    return sent


async def test_stalled_reader_is_dropped_and_upstream_closed() -> None:
    upstream = EndlessUpstream()
    sent = await call_app({"sse_send_timeout_s": 0.3}, upstream, stall_after=3)
    assert sent[0]["status"] == 200
    assert upstream.closed.is_set()

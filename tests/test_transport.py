"""The lean upstream transport (app/upstream/transport.py) against the mock on a real socket:
JSON answers arrive whole and decoded, event streams stay streams, aiohttp's failures arrive as
httpx's."""

import httpx
import orjson
import pytest

from app.upstream.transport import LeanAiohttpTransport
from mock_openrouter.process import MockProcess
from tests.factories import UPSTREAM_KEY

HEADERS = {"Authorization": f"Bearer {UPSTREAM_KEY}", "Content-Type": "application/json"}


def chat(url: str, *, stream: bool, encoding: str) -> httpx.Request:
    body = {"model": "mock/text", "messages": [{"role": "user", "content": "Hi"}]}
    request = httpx.Request(
        "POST",
        url,
        headers={**HEADERS, "Accept-Encoding": encoding},
        content=orjson.dumps({**body, "stream": stream}),
        extensions={"timeout": {"connect": 2.0, "read": 5.0, "pool": 2.0}},
    )
    request.read()
    return request


async def test_gzip_json_arrives_decoded_and_whole(mock: MockProcess) -> None:
    transport = LeanAiohttpTransport(trust_env=False)
    try:
        url = f"{mock.base_url}/chat/completions"
        resp = await transport.handle_async_request(chat(url, stream=False, encoding="gzip"))
        assert resp.status_code == 200
        assert "content-encoding" not in resp.headers  # aiohttp decoded it
        assert orjson.loads(resp.content)["choices"][0]["message"]["content"] == "Hello there!"
    finally:
        await transport.aclose()


async def test_event_stream_stays_a_stream(mock: MockProcess) -> None:
    transport = LeanAiohttpTransport(trust_env=False)
    try:
        url = f"{mock.base_url}/chat/completions"
        resp = await transport.handle_async_request(chat(url, stream=True, encoding="identity"))
        assert resp.headers["content-type"].startswith("text/event-stream")
        raw = b"".join([chunk async for chunk in resp.aiter_raw()])
        assert raw.rstrip().endswith(b"data: [DONE]")
        await resp.aclose()
    finally:
        await transport.aclose()


async def test_refused_connection_is_an_httpx_transport_error() -> None:
    transport = LeanAiohttpTransport(trust_env=False)
    try:
        request = chat("http://127.0.0.1:9/api/v1/chat/completions", stream=False, encoding="gzip")
        with pytest.raises(httpx.TransportError) as caught:
            await transport.handle_async_request(request)
        # httpx-aiohttp's mapping, kept: ConnectTimeout over a non-timeout cause, which
        # app/upstream/client.py counts as a connection failure (retried), not a timeout.
        assert isinstance(caught.value, httpx.ConnectTimeout)
        assert not isinstance(caught.value.__cause__, TimeoutError)
    finally:
        await transport.aclose()

"""The lean upstream transport (app/upstream/transport.py) against the mock on a real socket:
JSON answers arrive whole and decoded, event streams stay streams, aiohttp's failures arrive as
httpx's."""

import gc
import sys
from typing import Any

import aiohttp
import httpx
import orjson
import pytest

from app.upstream.transport import LeanAiohttpTransport, LeanResponse
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


def recorded(base: type[aiohttp.ClientResponse]) -> tuple[type[Any], list[Any]]:
    """A response class of its own (so its attribute names start from none, whatever other
    tests did) that keeps every response it makes."""
    made: list[Any] = []

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        base.__init__(self, *args, **kwargs)
        made.append(self)

    return type("Recorded", (base,), {"__slots__": (), "__init__": __init__}), made


def own_dict(response: Any) -> bool:
    """Whether CPython gave the instance a dict for its attributes (it does once the class's
    shared attribute names are used up): the collector then sees that dict, else the values."""
    return any(type(r) is dict and "status" in r for r in gc.get_referents(response))


async def answers_in_turn(mock: MockProcess, response_class: type[Any]) -> None:
    """A GET first (as the quotas' catalog fetch), then chat JSON, a stream and a GET again."""
    transport = LeanAiohttpTransport(trust_env=False)
    transport.response_class = response_class
    try:
        models = httpx.Request("GET", f"{mock.base_url}/models", headers=HEADERS)
        assert (await transport.handle_async_request(models)).status_code == 200
        url = f"{mock.base_url}/chat/completions"
        answer = await transport.handle_async_request(chat(url, stream=False, encoding="gzip"))
        assert answer.status_code == 200
        streamed = await transport.handle_async_request(chat(url, stream=True, encoding="gzip"))
        assert [chunk async for chunk in streamed.aiter_raw()]
        await streamed.aclose()
        assert (await transport.handle_async_request(models)).status_code == 200
    finally:
        await transport.aclose()


async def test_responses_keep_their_attributes_inline_whatever_came_first(
    mock: MockProcess,
) -> None:
    lean, made = recorded(LeanResponse)
    await answers_in_turn(mock, lean)
    assert len(made) == 4
    assert [own_dict(response) for response in made] == [False] * 4
    if sys.version_info[:2] == (3, 11):  # the control: aiohttp's own class, the same order
        plain, made = recorded(aiohttp.ClientResponse)
        await answers_in_turn(mock, plain)
        assert [own_dict(response) for response in made] == [False, True, True, False]

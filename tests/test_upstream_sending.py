"""When the upstream client sends a request again, and when it must not (billing safety), on both
transports, against a raw TCP server that misbehaves on cue; and the wait for a pool slot.

Rule (DESIGN "Billing safety"): once the upstream has sent a status line, the request is never
sent again; only failures before any answer, and 408/429/5xx answers, are retried.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Literal

import pytest

from app.upstream.client import UpstreamClient, build_client, build_transport
from app.upstream.failures import UpstreamFailure
from tests.factories import UPSTREAM_KEY, make_settings

Transport = Literal["aiohttp", "httpx"]
BODY = b'{"id":"gen-1","choices":[{"message":{"role":"assistant","content":"Hi"}}]}'
OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY
)
HALF = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY[:20]
)

# What the server does with the n-th request it receives.
Behaviour = Callable[[int], bytes | None]


class RawUpstream:
    """Counts complete requests; answers each with bytes (then closes, unless `keep_alive`), or
    hangs up unanswered."""

    def __init__(
        self, behaviour: Behaviour, delay_s: float = 0.0, *, keep_alive: bool = False
    ) -> None:
        self.behaviour = behaviour
        self.delay_s = delay_s
        self.keep_alive = keep_alive
        self.requests = 0
        self.open = 0
        self.most_open = 0
        self.port = 0

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        self.requests += 1
        answer = self.behaviour(self.requests)
        await asyncio.sleep(self.delay_s)
        if not answer:
            return False
        writer.write(answer)
        await writer.drain()
        return self.keep_alive

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while await self._one(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()


@asynccontextmanager
async def serving(upstream: RawUpstream) -> AsyncIterator[RawUpstream]:
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    upstream.port = server.sockets[0].getsockname()[1]
    try:
        yield upstream
    finally:
        server.close()


@asynccontextmanager
async def client_for(
    upstream: RawUpstream, transport: Transport, **overrides: object
) -> AsyncIterator[UpstreamClient]:
    settings = make_settings(
        openrouter_base_url=f"http://127.0.0.1:{upstream.port}/api/v1",
        upstream_transport=transport,
        upstream_retry_base_s=0.01,
        **overrides,
    )
    raw = build_transport(settings)
    async with build_client(settings, raw) as client:
        yield UpstreamClient(client, settings, raw)


TRANSPORTS: list[Transport] = ["aiohttp", "httpx"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_broken_answer_is_never_sent_again(transport: Transport) -> None:
    async with serving(RawUpstream(lambda _n: HALF)) as upstream:
        async with client_for(upstream, transport) as client:
            with pytest.raises(UpstreamFailure) as caught:
                await client.send_json("chat/completions", {"model": "m"})
    assert caught.value.kind == "broken"
    assert upstream.requests == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_stream_whose_answer_broke_before_its_body_is_not_sent_again(
    transport: Transport,
) -> None:
    head_only = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n"
    async with serving(RawUpstream(lambda _n: head_only)) as upstream:
        async with client_for(upstream, transport) as client:
            with pytest.raises(UpstreamFailure) as caught:
                await client.open_stream("chat/completions", {"model": "m", "stream": True})
    assert caught.value.kind == "broken"
    assert upstream.requests == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_hang_up_before_the_status_line_is_retried(transport: Transport) -> None:
    # The first request gets no answer at all; the second is answered.
    async with serving(RawUpstream(lambda n: None if n == 1 else OK)) as upstream:
        async with client_for(upstream, transport) as client:
            answer, _headers = await client.send_json("chat/completions", {"model": "m"})
    assert answer["id"] == "gen-1"
    assert upstream.requests == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_waiting_for_a_pool_slot_is_busy_not_a_timeout(transport: Transport) -> None:
    # One connection, held 1 s by the first call; the second may wait 0.2 s for it.
    async with serving(RawUpstream(lambda _n: OK, delay_s=1.0)) as upstream:
        async with client_for(
            upstream,
            transport,
            upstream_max_connections=1,
            upstream_pool_timeout_s=0.2,
            upstream_connect_timeout_s=5.0,
        ) as client:
            first = asyncio.create_task(client.send_json("chat/completions", {"model": "m"}))
            await asyncio.sleep(0.1)
            with pytest.raises(UpstreamFailure) as caught:
                await client.send_json("chat/completions", {"model": "m"})
            await first
    assert caught.value.kind == "busy"
    assert upstream.requests == 1
    assert upstream.most_open == 1
    assert client.pool_timeouts == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_held_stream_keeps_its_slot_until_closed(transport: Transport) -> None:
    stream_head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: {}\n\ndata: [DONE]\n\n"
    )
    async with serving(RawUpstream(lambda _n: stream_head)) as upstream:
        async with client_for(
            upstream, transport, upstream_max_connections=1, upstream_pool_timeout_s=0.2
        ) as client:
            resp = await client.open_stream("chat/completions", {"model": "m", "stream": True})
            with pytest.raises(UpstreamFailure) as caught:
                await client.send_json("chat/completions", {"model": "m"})
            assert caught.value.kind == "busy"
            await resp.aclose()
            # The slot is free again once the stream is closed.
            with pytest.raises(UpstreamFailure) as again:
                await client.send_json("chat/completions", {"model": "m"})
            assert again.value.kind != "busy"


async def test_idle_connections_beyond_the_keepalive_limit_are_closed() -> None:
    # Eight calls at once open eight connections that the server keeps open; only two may stay.
    async with serving(RawUpstream(lambda _n: OK, delay_s=0.2, keep_alive=True)) as upstream:
        async with client_for(upstream, "aiohttp", upstream_max_keepalive=2) as client:
            await asyncio.gather(
                *(client.send_json("chat/completions", {"model": "m"}) for _ in range(8))
            )
            await asyncio.sleep(0.2)
            assert upstream.requests == 8
            assert upstream.most_open == 8
            assert upstream.open <= 2


def test_busy_maps_to_503_with_retry_after_on_both_surfaces() -> None:
    from app.legacy.errors import to_legacy_error
    from app.v1.errors import to_openai_error

    legacy = to_legacy_error(UpstreamFailure("busy"), "k")
    openai = to_openai_error(UpstreamFailure("busy"), "k")
    for err in (legacy, openai):
        assert err.status_code == 503
        assert err.headers.get("Retry-After") == "1"
    assert "busy" in legacy.message.lower()
    assert openai.code == "gateway_busy"


def test_broken_maps_to_502_on_both_surfaces() -> None:
    from app.legacy.errors import to_legacy_error
    from app.v1.errors import to_openai_error

    assert to_legacy_error(UpstreamFailure("broken"), "k").status_code == 502
    assert to_openai_error(UpstreamFailure("broken"), "k").status_code == 502


async def test_an_error_text_is_redacted_before_it_is_cut() -> None:
    # The key straddles the 2,000th character, where the kept text is cut.
    text = b"x" * 1990 + UPSTREAM_KEY.encode() + b" was refused"
    answer = (
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
        b"Content-Length: %d\r\n\r\n" % len(text) + text
    )
    async with serving(RawUpstream(lambda _n: answer)) as upstream:
        async with client_for(upstream, "aiohttp") as client:
            with pytest.raises(UpstreamFailure) as caught:
                await client.send_json("chat/completions", {"model": "m"})
    assert caught.value.status == 400
    assert UPSTREAM_KEY[:8] not in caught.value.text
    assert caught.value.text.endswith("[redacted]")

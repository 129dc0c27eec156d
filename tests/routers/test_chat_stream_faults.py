"""Every way an upstream stream can fail ends the legacy stream with one error event, no `done`,
and the upstream connection closed; none of them hangs (the client's deadline would fail the
test). Faults and deadlines run in-process; a caller's disconnect and SIGTERM need a process."""

import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from mock_openrouter.testing import MockControl, data_payloads
from tests.factories import make_token
from tests.gateways import GatewayFactory
from tests.journal import wait_upstream_closed
from tests.procs import GatewayProcess, open_raw_stream

PATH = "/api/ai/chat/completion"
DEADLINES = {
    "STREAM_FIRST_EVENT_TIMEOUT_S": "1",
    "STREAM_IDLE_TIMEOUT_S": "1",
    "STREAM_MAX_LIFETIME_S": "3",
    "SSE_PING_S": "0.3",
    "SHUTDOWN_GRACE_S": "1",
}


@pytest.fixture
def tight(gateway_factory: GatewayFactory) -> Iterator[httpx.Client]:
    with gateway_factory.inprocess(**DEADLINES).client() as c:
        yield c


def events(client: httpx.Client, model: str) -> list[dict[str, Any]]:
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    resp = client.post(PATH, json=body, headers={"Authorization": f"Bearer {make_token()}"})
    assert resp.status_code == 200
    return [orjson.loads(p) for p in data_payloads(resp.content)]


def assert_ends_in_one_error(payloads: list[dict[str, Any]], message: str) -> None:
    errors = [p for p in payloads if "error" in p]
    assert errors == [{"error": True, "message": message}], payloads
    assert payloads[-1] == errors[0]
    assert {"done": True} not in payloads


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("mock/midstream_error?shape=A&after=2&code=502", "502 Provider returned error"),
        (
            "mock/midstream_error?shape=B&after=2&code=429",
            "AI provider rate limit exceeded. Please wait before retrying.",
        ),
        ("mock/midstream_error?shape=C&after=1&code=server_error", "502 Provider returned error"),
        ("mock/error_before_tokens_200", "400 Provider returned error"),
        ("mock/drop?after=2", "Failed to stream response: terminated"),
        (
            "mock/text?fault=drop&after=1&write_split=split_mid_utf8",
            "Failed to stream response: terminated",
        ),
        ("mock/malformed", "Failed to stream response: invalid data from the AI provider"),
    ],
)
def test_upstream_faults(client: httpx.Client, model: str, message: str) -> None:
    assert_ends_in_one_error(events(client, model), message)


def test_partial_content_stays_sent(client: httpx.Client) -> None:
    payloads = events(client, "mock/midstream_error?shape=A&after=2&code=502&tokens=5")
    assert [p for p in payloads if "chunk" in p][:2] == payloads[:2]
    assert not any("tokenUsage" in p for p in payloads)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            "mock/keepalive_only?seconds=5&keepalive_ms=100",
            "Failed to stream response: no data from the AI provider within 1 s",
        ),
        (
            "mock/stall?after=2&stall_ms=5000",
            "Failed to stream response: the AI provider sent nothing for 1 s",
        ),
        ("mock/text?tokens=200&tpot_ms=50", "Failed to stream response: stream exceeded 3 s"),
    ],
)
def test_deadlines_end_the_stream_and_close_the_upstream(
    tight: httpx.Client, journal: MockControl, model: str, message: str
) -> None:
    assert_ends_in_one_error(events(tight, model), message)
    assert wait_upstream_closed(journal)["ended"] == "client_disconnect"


def test_pings_during_silence(tight: httpx.Client) -> None:
    body = {
        "model": "mock/text?ttft_ms=800",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
    }
    resp = tight.post(PATH, json=body, headers={"Authorization": f"Bearer {make_token()}"})
    assert resp.content.startswith(b": ping\n\n")
    assert data_payloads(resp.content)[-1] == '{"done":true}'


def _open_stream(gateway: GatewayProcess, model: str) -> socket.socket:
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    return open_raw_stream(gateway, PATH, orjson.dumps(body), make_token())


@pytest.mark.parametrize("moment", ["before_first_token", "after_first_token"])
def test_client_disconnect_closes_upstream_within_100ms(
    gateway: GatewayProcess, journal: MockControl, moment: str
) -> None:
    model = (
        "mock/text?ttft_ms=3000&tokens=50"
        if moment == "before_first_token"
        else "mock/text?tokens=100&tpot_ms=100"
    )
    sock = _open_stream(gateway, model)
    deadline = time.monotonic() + 5
    if moment == "before_first_token":
        while not journal.requests() or journal.requests()[-1]["first_byte_at"] is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    else:
        received = b""
        while b'{"chunk"' not in received:
            received += sock.recv(65536)
    closed_at = time.time()
    sock.close()
    entry = wait_upstream_closed(journal)
    assert entry["ended"] == "client_disconnect"
    assert entry["disconnect_at"] - closed_at < 0.1, entry["disconnect_at"] - closed_at


def test_sigterm_gives_open_streams_grace_then_an_error_event(
    gateway_factory: GatewayFactory, journal: MockControl
) -> None:
    with gateway_factory.own(**{**DEADLINES, "STREAM_MAX_LIFETIME_S": "60"}) as gw:
        sock = _open_stream(gw, "mock/text?tokens=200&tpot_ms=100")
        received = b""
        while b'{"chunk"' not in received:
            received += sock.recv(65536)
        signalled = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        sock.settimeout(10)
        while not received.endswith(b"0\r\n\r\n"):
            piece = sock.recv(65536)
            if not piece:
                break
            received += piece
        elapsed = time.monotonic() - signalled
        sock.close()
        # uvicorn re-raises the captured SIGTERM once its graceful shutdown is done.
        assert gw.proc.wait(timeout=10) in (0, -signal.SIGTERM)
    text = received.decode()
    shutting_down = "Failed to stream response: the gateway is shutting down; please retry"
    assert '{"error":true,"message":"' + shutting_down + '"}' in text
    assert '{"done":true}' not in text
    assert 0.9 <= elapsed < 4, elapsed
    assert journal.requests()[-1]["ended"] == "client_disconnect"

"""Money is safe on every AI route: an answered request is never sent again, and a caller who
leaves cancels the upstream call at once, JSON calls included (the mock's journal is the proof).
Leaving needs a real socket to hang up, so those tests take a gateway process.
"""

import socket
import time
from typing import Any

import httpx
import orjson
import pytest

from mock_openrouter.testing import MockControl
from tests.factories import make_token
from tests.journal import wait_upstream_closed
from tests.procs import GatewayProcess, open_raw_stream

HI = [{"role": "user", "content": "Hi"}]

# (gateway route, request body with the model filled in later, upstream path)
ROUTES: dict[str, tuple[str, dict[str, Any], str]] = {
    "legacy chat": ("/api/ai/chat/completion", {"messages": HI}, "/api/v1/chat/completions"),
    "legacy image": ("/api/ai/image/generation", {"prompt": "a cat"}, "/api/v1/chat/completions"),
    "legacy embeddings": ("/api/ai/embeddings", {"input": "Hi"}, "/api/v1/embeddings"),
    "v1 chat": ("/api/v1/chat/completions", {"messages": HI}, "/api/v1/chat/completions"),
    "v1 embeddings": ("/api/v1/embeddings", {"input": "Hi"}, "/api/v1/embeddings"),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_an_answer_that_breaks_off_is_not_sent_again(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str], route: str
) -> None:
    path, body, upstream_path = ROUTES[route]
    resp = client.post(path, json={"model": "mock/drop", **body}, headers=user_headers)
    assert resp.status_code == 502
    if path.startswith("/api/v1/"):
        assert resp.json()["error"]["code"] == "upstream_broken"
    else:
        assert resp.json()["error"] == "AI_UPSTREAM_UNAVAILABLE"
    sent = [e for e in journal.requests() if e["path"] == upstream_path]
    assert len(sent) == 1, [e["generation_id"] for e in sent]
    assert sent[0]["status"] == 200  # it had been answered


def _leave_during_call(
    gateway: GatewayProcess, journal: MockControl, path: str, body: bytes, after_s: float = 0.1
) -> None:
    sock: socket.socket = open_raw_stream(gateway, path, body, make_token())
    deadline = time.monotonic() + 3
    while not journal.requests():
        assert time.monotonic() < deadline, "the upstream was never called"
        time.sleep(0.01)
    time.sleep(after_s)  # the upstream is now working on it
    closed_at = time.time()
    sock.close()
    entry = wait_upstream_closed(journal)
    assert entry["ended"] == "client_disconnect", entry["ended"]
    assert entry["disconnect_at"] - closed_at < 0.1, entry["disconnect_at"] - closed_at
    assert len(journal.requests()) == 1


@pytest.mark.parametrize("path", ["/api/ai/chat/completion", "/api/v1/chat/completions"])
def test_leaving_a_json_call_cancels_the_upstream_within_100ms(
    gateway: GatewayProcess, journal: MockControl, path: str
) -> None:
    body = orjson.dumps({"model": "mock/text?ttft_ms=3000", "messages": HI})
    for after_s in (0.0, 0.1):  # at once (before the gateway's watcher starts), and later
        journal.reset()
        _leave_during_call(gateway, journal, path, body, after_s)


@pytest.mark.parametrize("path", ["/api/ai/chat/completion", "/api/v1/chat/completions"])
def test_leaving_before_the_upstream_headers_cancels_it_within_100ms(
    gateway: GatewayProcess, journal: MockControl, path: str
) -> None:
    for stream in (False, True):
        journal.reset()
        model = "mock/slow_headers?header_delay_ms=3000"
        body = orjson.dumps({"model": model, "messages": HI, "stream": stream})
        _leave_during_call(gateway, journal, path, body)


def test_a_caller_who_left_is_logged_as_cancelled(
    gateway: GatewayProcess, journal: MockControl
) -> None:
    # The shared gateway logs at info (tests/conftest.py); only what this test caused counts.
    before = len(gateway.logs())
    body = orjson.dumps({"model": "mock/text?ttft_ms=3000", "messages": HI})
    _leave_during_call(gateway, journal, "/api/v1/chat/completions", body)
    deadline = time.monotonic() + 2
    while "cancelled" not in gateway.logs()[before:] and time.monotonic() < deadline:
        time.sleep(0.02)
    line = next(x for x in gateway.logs()[before:].splitlines() if "cancelled" in x)
    assert "/api/v1/chat/completions" in line

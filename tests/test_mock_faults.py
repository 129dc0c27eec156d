"""The mock's failure injection: queue, HTTP errors, in-band errors, drops, stalls, disconnects."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_openrouter import MockProcess, start_mock
from mock_openrouter.testing import MockControl, data_payloads, sse_blocks

AUTH = {"Authorization": "Bearer sk-or-v1-test"}
ERROR_STATUSES = [400, 401, 402, 403, 404, 408, 413, 422, 429, 500, 502, 503, 524, 529]


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    with start_mock(seed=99) as proc:
        yield proc


@pytest.fixture
def client(mock: MockProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.base_url, headers=AUTH, timeout=10) as c:
        yield c


def chat(client: httpx.Client, model: str, stream: bool = False) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "stream": stream}
    return client.post("/chat/completions", json=body)


def payloads(response: httpx.Response) -> list[str]:
    return data_payloads(response.content)


def test_queue_is_fifo_then_falls_back(client: httpx.Client, control: MockControl) -> None:
    control.enqueue([{"scenario": "error", "status": 502}, {"scenario": "text"}], model="mock/*")
    first, second, third = (chat(client, "mock/tool") for _ in range(3))
    assert first.status_code == 502
    error = first.json()["error"]
    assert error["code"] == 502
    assert isinstance(json.loads(error["metadata"]["raw"]), dict)
    assert "x-generation-id" not in first.headers
    assert json.loads(second.text)["choices"][0]["message"]["content"] == "Hello there!"
    assert json.loads(third.text)["choices"][0]["finish_reason"] == "tool_calls"
    sources = [e["scenario_source"] for e in control.requests()]
    assert sources == ["queue", "queue", "model"]


def test_queue_matches_path_and_model(client: httpx.Client, control: MockControl) -> None:
    control.enqueue([{"scenario": "error", "status": 503}], model="other/*")
    assert chat(client, "mock/text").status_code == 200
    assert chat(client, "other/model").status_code == 503


@pytest.mark.parametrize("status", ERROR_STATUSES)
@pytest.mark.parametrize("stream", [False, True])
def test_http_errors_are_json_even_when_streaming(
    client: httpx.Client, status: int, stream: bool
) -> None:
    response = chat(client, f"mock/error?status={status}", stream=stream)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["message"]
    if status == 404:
        assert "code" not in error
        assert error["http_status"] == 404
    else:
        assert error["code"] == status
    if status == 403:
        assert error["metadata"]["reasons"] == ["misc"]


def test_429_with_retry_after_and_ratelimit_headers(client: httpx.Client) -> None:
    response = chat(client, "mock/error?status=429&retry_after=1")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    reset = response.headers["x-ratelimit-reset"]
    assert int(reset) > time.time() * 1000
    meta = response.json()["error"]["metadata"]
    assert meta["headers"] == {
        "X-RateLimit-Limit": "20",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset,
    }
    daily = chat(client, "mock/error?status=429&daily=1").json()["error"]
    assert "free-models-per-day" in daily["message"]


@pytest.mark.parametrize(("code", "expected"), [("", 400), ("server_error", "server_error")])
def test_nonstream_200_error(client: httpx.Client, code: str, expected: Any) -> None:
    response = chat(client, f"mock/nonstream_200_error?code={code}")
    assert response.status_code == 200
    assert response.text.startswith("\n")
    body = json.loads(response.text.strip())
    assert body == {"error": {"message": "Provider returned error", "code": expected}}


def test_choice_error_partial(client: httpx.Client) -> None:
    choice = json.loads(chat(client, "mock/choice_error_partial").text)["choices"][0]
    assert choice["finish_reason"] == "error"
    assert choice["error"]["code"] == 502
    assert choice["message"]["content"] == "partial output..."


def test_drop_nonstream_raises(client: httpx.Client, control: MockControl) -> None:
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        chat(client, "mock/drop")
    assert control.requests()[-1]["ended"] == "fault"


def _read_into(response: httpx.Response, sink: list[bytes]) -> None:
    sink.extend(response.iter_bytes())


def test_drop_stream_has_no_done(client: httpx.Client) -> None:
    received: list[bytes] = []
    body = {"model": "mock/drop?after=1", "stream": True}
    with client.stream("POST", "/chat/completions", json=body) as response:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            _read_into(response, received)
    assert b"Hel" in b"".join(received)
    assert b"[DONE]" not in b"".join(received)


def test_slow_headers(client: httpx.Client) -> None:
    started = time.monotonic()
    assert chat(client, "mock/slow_headers?header_delay_ms=300").status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        client.post("/chat/completions", json={"model": "mock/slow_headers"}, timeout=0.2)


@pytest.mark.parametrize("shape", ["A", "B", "C"])
def test_midstream_error_shapes(client: httpx.Client, shape: str) -> None:
    model = f"mock/text?fault=midstream_error&after=1&shape={shape}&code=server_error"
    data = payloads(chat(client, model, stream=True))
    assert "[DONE]" not in data
    last = json.loads(data[-1])
    assert last["error"]["code"] == "server_error"
    assert "usage" not in last
    assert {"A": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}], "B": []}.get(
        shape, None
    ) == last.get("choices")
    contents = [json.loads(d)["choices"][0]["delta"].get("content") for d in data[:-1]]
    assert [c for c in contents if c] == ["Hel"]


def test_error_before_tokens_200(client: httpx.Client) -> None:
    response = chat(client, "mock/error_before_tokens_200?comments=6", stream=True)
    blocks = sse_blocks(response.content)
    assert [len(b.comments) for b in blocks[:6]] == [1] * 6
    assert len(blocks) == 7
    last = json.loads(blocks[-1].data[0])
    assert last["choices"] == []
    assert last["error"]["code"] == 400


def test_keepalive_only(client: httpx.Client) -> None:
    started = time.monotonic()
    model = "mock/keepalive_only?seconds=0.3&keepalive_ms=50&end=close&comments=1"
    response = chat(client, model, stream=True)
    assert time.monotonic() - started >= 0.3
    blocks = sse_blocks(response.content)
    assert len(blocks) >= 6
    assert all(b.comments and not b.data for b in blocks)


def test_stall_is_silent(client: httpx.Client) -> None:
    model = "mock/stall?after=1&stall_ms=5000&comments=0&write_split=one_per_event"
    received: list[bytes] = []
    body = {"model": model, "stream": True}
    with client.stream("POST", "/chat/completions", json=body, timeout=0.5) as response:
        with pytest.raises(httpx.ReadTimeout):
            _read_into(response, received)
    assert b"Hel" in b"".join(received)


def test_malformed_stream_still_completes(client: httpx.Client) -> None:
    response = chat(client, "mock/malformed", stream=True)
    blocks = sse_blocks(response.content)
    assert any(b.event == "ping" for b in blocks)
    data = [d for b in blocks for d in b.data]
    assert "{malformed json" in data
    assert data[-1] == "[DONE]"


def test_client_disconnect_is_recorded_within_100ms(
    mock: MockProcess, control: MockControl
) -> None:
    body = {"model": "mock/text?tokens=50&tpot_ms=200", "stream": True}
    with httpx.Client(headers=AUTH, timeout=10) as c:
        with c.stream("POST", mock.base_url + "/chat/completions", json=body) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    break
            closed_at = time.time()
    deadline = time.monotonic() + 2
    entry: dict[str, Any] = {}
    while time.monotonic() < deadline:
        entry = control.requests()[-1]
        if entry["ended"] != "in_progress":
            break
        time.sleep(0.01)
    assert entry["ended"] == "client_disconnect"
    assert entry["disconnect_at"] - closed_at < 0.1
    assert 12 <= entry["billed_tokens"] < 12 + 50


def test_fault_param_rides_on_content_scenario(client: httpx.Client) -> None:
    assert chat(client, "mock/tool?fault=error&status=503").status_code == 503
    data = payloads(chat(client, "mock/tool?fault=midstream_error&after=1&shape=B", stream=True))
    assert json.loads(data[-1])["choices"] == []
    assert "tool_calls" in json.loads(data[-2])["choices"][0]["delta"]

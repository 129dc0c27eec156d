"""Upstream failures, retries and timeouts on the legacy chat route, mapped as the legacy API did.

The gateway runs in-process; its upstream is the mock process, through its real transport."""

import logging
from collections.abc import Iterator

import httpx
import pytest

from mock_openrouter.testing import MockControl
from tests.factories import UPSTREAM_KEY
from tests.gateways import GatewayFactory, inprocess_client
from tests.procs import free_port

PATH = "/api/ai/chat/completion"
HI = {"role": "user", "content": "Hi"}


def chat(client: httpx.Client, headers: dict[str, str], model: str) -> httpx.Response:
    return client.post(PATH, json={"model": model, "messages": [HI]}, headers=headers)


def attempts(journal: MockControl) -> int:
    return sum(1 for e in journal.requests() if e["path"] == "/api/v1/chat/completions")


def test_402_maps_without_retry(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    resp = chat(client, user_headers, "mock/error?status=402")
    assert resp.status_code == 402
    assert resp.content == (
        b'{"error":"BILLING_INSUFFICIENT_BALANCE","message":"AI credit limit reached.",'
        b'"statusCode":402,"nextActions":"Add credits to your OpenRouter account."}'
    )
    assert attempts(journal) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_upstream_auth_failure_is_401_invalid_key(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str], status: int
) -> None:
    resp = chat(client, user_headers, f"mock/error?status={status}")
    assert resp.status_code == 401
    assert resp.json()["error"] == "AI_INVALID_API_KEY"
    assert attempts(journal) == 1


def test_429_retried_twice_honouring_retry_after(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    resp = chat(client, user_headers, "mock/error?status=429&retry_after=0.2")
    assert resp.status_code == 429
    assert resp.json()["error"] == "RATE_LIMITED"
    assert resp.headers["retry-after"] == "0.2"
    times = [e["arrived_at"] for e in journal.requests()]
    assert len(times) == 3
    assert all(later - earlier >= 0.19 for earlier, later in zip(times, times[1:], strict=False))


def test_retry_after_beyond_cap_is_not_waited(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    resp = chat(client, user_headers, "mock/error?status=429&retry_after=3600")
    assert resp.status_code == 429
    assert attempts(journal) == 1


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_other_4xx_not_retried(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str], status: int
) -> None:
    resp = chat(client, user_headers, f"mock/error?status={status}")
    assert resp.status_code == status
    body = resp.json()
    assert body["error"] == "AI_UPSTREAM_UNAVAILABLE"
    assert body["message"].startswith(f"{status} ")
    assert list(body) == ["error", "message", "statusCode"]
    assert attempts(journal) == 1


@pytest.mark.parametrize("status", [408, 500, 502, 503, 524, 529])
def test_retryable_statuses_tried_three_times(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str], status: int
) -> None:
    resp = chat(client, user_headers, f"mock/error?status={status}")
    assert resp.status_code == status
    assert resp.json()["message"].startswith(f"{status} ")
    assert attempts(journal) == 3


def test_5xx_then_ok(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    journal.enqueue([{"scenario": "error", "status": 502}, {"scenario": "text"}])
    resp = chat(client, user_headers, "openai/gpt-4o-mini")
    assert resp.status_code == 200
    assert resp.json()["text"] == "Hello there!"
    assert attempts(journal) == 2


def test_200_with_error_body_is_an_error(
    client: httpx.Client, user_headers: dict[str, str]
) -> None:
    resp = chat(client, user_headers, "mock/nonstream_200_error")
    assert resp.status_code == 400
    assert resp.content == (
        b'{"error":"AI_UPSTREAM_UNAVAILABLE","message":"400 Provider returned error",'
        b'"statusCode":400}'
    )
    resp = chat(client, user_headers, "mock/nonstream_200_error?code=server_error")
    assert resp.status_code == 502


def test_choice_error_is_an_error(client: httpx.Client, user_headers: dict[str, str]) -> None:
    resp = chat(client, user_headers, "mock/choice_error_partial")
    assert resp.status_code == 502
    assert resp.json()["error"] == "AI_UPSTREAM_UNAVAILABLE"


def test_dropped_connection_is_502(client: httpx.Client, user_headers: dict[str, str]) -> None:
    resp = chat(client, user_headers, "mock/drop")
    assert resp.status_code == 502
    assert resp.content == (
        b'{"error":"AI_UPSTREAM_UNAVAILABLE","message":"Connection error.","statusCode":502}'
    )


@pytest.fixture
def impatient(gateway_factory: GatewayFactory) -> Iterator[httpx.Client]:
    with gateway_factory.inprocess(UPSTREAM_READ_TIMEOUT_S="0.5").client() as c:
        yield c


def test_slow_headers_time_out(
    impatient: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    resp = chat(impatient, user_headers, "mock/slow_headers?header_delay_ms=3000")
    assert resp.status_code == 504
    assert resp.json()["message"] == "Request timed out."
    assert attempts(journal) == 1


def test_connection_refused_is_502(
    user_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with inprocess_client(f"http://127.0.0.1:{free_port()}/api/v1") as c:
        resp = chat(c, user_headers, "mock/text")
    assert resp.status_code == 502
    assert resp.json()["message"] == "Connection error."
    assert "upstream connection failed" in caplog.text  # the retries were logged
    assert UPSTREAM_KEY not in caplog.text

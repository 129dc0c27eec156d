"""The ledger against the real wire: a gateway process in front of the mock OpenRouter process,
on SQLite and on the real PostgreSQL. Each row's tokens and cost must be what the mock itself
reports for that generation (its `GET /api/v1/generation`, as OpenRouter answers it), read
back through the admin route. The exact values of every column: tests/test_ledger.py."""

import time
from typing import Any

import httpx

from mock_openrouter.process import MockProcess
from mock_openrouter.testing import MockControl
from tests.factories import API_KEY, UPSTREAM_KEY
from tests.gateways import GatewayFactory
from tests.ledger_support import AUTH, HI

# The mock records a generation once its answer has ended, which the client may see first.
GENERATION_WAIT_S = 5.0


def text(prompt: int, completion: int) -> str:
    """A mock model whose answer reports these token counts (distinct per call, so a row
    matched to the wrong generation cannot pass)."""
    return f"mock/text?prompt_tokens={prompt}&completion_tokens={completion}"


CALLS: list[tuple[str, dict[str, Any]]] = [
    ("/api/ai/chat/completion", {"model": text(11, 3), "messages": HI}),
    ("/api/v1/chat/completions", {"model": text(13, 5), "messages": HI}),
    ("/api/ai/chat/completion", {"model": text(17, 7), "messages": HI, "stream": True}),
    ("/api/v1/chat/completions", {"model": text(19, 9), "messages": HI, "stream": True}),
    ("/api/ai/image/generation", {"model": "mock/image?prompt_tokens=23", "prompt": "A cat"}),
]


def generation(mock: MockProcess, generation_id: str) -> Any:
    """The mock's own record of one generation."""
    headers = {"Authorization": f"Bearer {UPSTREAM_KEY}"}
    deadline = time.monotonic() + GENERATION_WAIT_S
    while True:
        found = httpx.get(
            f"{mock.base_url}/generation", params={"id": generation_id}, headers=headers
        )
        if found.status_code != 404 or time.monotonic() > deadline:
            assert found.status_code == 200, found.text
            return found.json()["data"]
        time.sleep(0.05)


def test_rows_carry_the_tokens_and_cost_the_mock_reported(
    gateway_factory: GatewayFactory, mock: MockProcess, control: MockControl, database_url: str
) -> None:
    gateway = gateway_factory.own(
        LEDGER_ENABLED="true", DATABASE_URL=database_url, LEDGER_FLUSH_S="0.1"
    )
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        for path, body in CALLS:
            answer = client.post(path, json=body, headers=AUTH)
            assert answer.status_code == 200, answer.text
        # The admin route writes this process's queued rows before it reads.
        usage = client.get("/api/ai/usage", params={"limit": 100}, headers={"x-api-key": API_KEY})
    assert usage.status_code == 200
    records = usage.json()["records"]
    assert sorted(r["modelId"] for r in records) == sorted(body["model"] for _, body in CALLS)
    sent = [r for r in control.requests() if r["path"] == "/api/v1/chat/completions"]
    assert len(sent) == len(CALLS)  # one upstream call each, none retried
    assert len({r["generationId"] for r in records}) == len(CALLS)
    for record in records:
        reported = generation(mock, record["generationId"])
        assert reported["cancelled"] is False
        assert reported["total_cost"] > 0
        assert (record["promptTokens"], record["completionTokens"], record["cost"]) == (
            reported["tokens_prompt"],
            reported["tokens_completion"],
            reported["total_cost"],
        ), record["modelId"]
        assert record["model"] == reported["model"]
        assert record["status"] == 200
    images = next(r for r in records if r["modelId"].startswith("mock/image"))
    assert images["imageCount"] == 1

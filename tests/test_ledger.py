"""The usage ledger: one row per AI call, on SQLite and on the real PostgreSQL, written off the
request path and flushed at SIGTERM. Database outages: tests/test_ledger_outage.py; tokens and
cost against what the mock OpenRouter process reported: tests/test_ledger_wire.py."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.factories import asgi_receive, asgi_scope
from tests.gateways import GatewayFactory
from tests.ledger_support import (
    AUTH,
    HI,
    SSE,
    ledger_gateway,
    ledger_rows,
    ledger_settings,
)
from tests.procs import ROOT, gateway_env


async def test_each_call_is_one_row_with_what_the_upstream_reported(database_url: str) -> None:
    settings = ledger_settings(database_url, allowed_models=["m", "broken"])
    async with ledger_gateway(settings) as (client, _writer, _app):
        ok = await client.post(
            "/api/ai/chat/completion", json={"model": "m", "messages": HI}, headers=AUTH
        )
        streamed = await client.post(
            "/api/v1/chat/completions",
            json={"model": "m", "messages": HI, "stream": True},
            headers=AUTH,
        )
        failed = await client.post(
            "/api/v1/chat/completions", json={"model": "broken", "messages": HI}, headers=AUTH
        )
        refused = await client.post(
            "/api/ai/chat/completion", json={"model": "other", "messages": HI}, headers=AUTH
        )
    assert [r.status_code for r in (ok, streamed, failed, refused)] == [200, 200, 400, 400]
    rows = await ledger_rows(database_url)
    picked = [
        (
            r["surface"],
            r["route"],
            r["requested_model"],
            r["outcome"],
            r["status"],
            r["generation_id"],
            r["served_model"],
            r["provider"],
            r["prompt_tokens"],
            r["completion_tokens"],
            r["reasoning_tokens"],
            r["cost_usd"],
        )
        for r in rows
    ]
    assert picked == [
        ("legacy", "/api/ai/chat/completion", "m", "ok", 200, "gen-1", "m-served", "P", 3, 2)
        + (None, 0.00042),
        ("v1", "/api/v1/chat/completions", "m", "ok", 200, "gen-2", "m-served", "P", 4, 1)
        + (1, 0.0007),
        ("v1", "/api/v1/chat/completions", "broken", "upstream_error", 400, None, None, None)
        + (None, None, None, None),
        ("legacy", "/api/ai/chat/completion", "other", "refused", 400, None, None, None)
        + (None, None, None, None),
    ]
    for row in rows:
        assert (row["user_id"], row["role"], row["auth_kind"]) == (
            "user-7",
            "authenticated",
            "user",
        )
        assert row["request_id"]
        assert row["started_at"] is not None
        assert row["latency_ms"] >= 0
        assert row["config_id"] is None
    assert rows[1]["ttft_ms"] is not None
    assert rows[0]["ttft_ms"] is None


async def test_a_cancelled_stream_is_recorded_with_what_was_reported(database_url: str) -> None:
    async def first_chunk_then_nothing() -> AsyncIterator[bytes]:
        yield b'data: {"id":"gen-3","model":"m-served","choices":[{"delta":{"content":"Hi"}}]}\n\n'
        await asyncio.sleep(30)

    def slow(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=first_chunk_then_nothing(), headers=SSE)

    body = orjson.dumps({"model": "m", "messages": HI, "stream": True})
    sent: list[Any] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    settings = ledger_settings(database_url)
    async with ledger_gateway(settings, slow) as (_client, _writer, (app, state)):
        scope = asgi_scope("POST", "/api/v1/chat/completions", state)
        await asyncio.wait_for(app(scope, asgi_receive(body, 0.3), send), timeout=5)
    rows = await ledger_rows(database_url)
    assert [(r["outcome"], r["generation_id"], r["cost_usd"]) for r in rows] == [
        ("cancelled", "gen-3", None)
    ]


IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}


def cached_images_or_no_answer(request: httpx.Request) -> httpx.Response:
    """Cached prompt tokens on a chat answer, two images on an image answer, and no answer at
    all (a read timeout) for the model `slow`."""
    body = orjson.loads(request.content)
    if body["model"] == "slow":
        raise httpx.ReadTimeout("no answer", request=request)
    message: dict[str, Any] = {"role": "assistant", "content": "Hi"}
    usage: dict[str, Any] = {"prompt_tokens": 9, "completion_tokens": 2, "cost": 0.0003}
    if body.get("modalities"):
        message["images"] = [IMAGE, IMAGE]
    else:
        usage["prompt_tokens_details"] = {"cached_tokens": 6}
    answer = {"id": "gen-9", "model": "m", "choices": [{"message": message}], "usage": usage}
    return httpx.Response(200, json=answer)


async def test_cached_tokens_images_and_timeouts_are_recorded(database_url: str) -> None:
    settings = ledger_settings(database_url)
    handler = cached_images_or_no_answer
    async with ledger_gateway(settings, handler) as (client, _writer, _app):
        cached = await client.post(
            "/api/v1/chat/completions", json={"model": "m", "messages": HI}, headers=AUTH
        )
        image = await client.post(
            "/api/ai/image/generation", json={"model": "m", "prompt": "A cat"}, headers=AUTH
        )
        timeouts = [
            await client.post(path, json={"model": "slow", "messages": HI}, headers=AUTH)
            for path in ("/api/ai/chat/completion", "/api/v1/chat/completions")
        ]
    assert [r.status_code for r in (cached, image, *timeouts)] == [200, 200, 504, 504]
    assert len(image.json()["images"]) == 2
    rows = await ledger_rows(database_url)
    assert [
        (r["route"], r["outcome"], r["status"], r["cached_tokens"], r["image_count"]) for r in rows
    ] == [
        ("/api/v1/chat/completions", "ok", 200, 6, None),
        ("/api/ai/image/generation", "ok", 200, None, 2),
        ("/api/ai/chat/completion", "timed_out", 504, None, None),
        ("/api/v1/chat/completions", "timed_out", 504, None, None),
    ]
    assert [r["prompt_tokens"] for r in rows] == [9, 9, None, None]


def test_sigterm_writes_every_queued_row(
    gateway_factory: GatewayFactory, database_url: str
) -> None:
    calls = 12
    process = gateway_factory.own(
        LEDGER_ENABLED="true",
        DATABASE_URL=database_url,
        LEDGER_FLUSH_S="3600",
        LEDGER_BATCH_SIZE="1000",
    )
    with httpx.Client(base_url=process.url, headers=AUTH, timeout=10) as client:
        for _ in range(calls):
            answer = client.post(
                "/api/ai/chat/completion", json={"model": "mock/text", "messages": HI}
            )
            assert answer.status_code == 200
    # uvicorn re-raises the signal once it has shut down cleanly.
    assert process.stop() in (0, -signal.SIGTERM)
    rows = asyncio.run(ledger_rows(database_url))
    assert len(rows) == calls
    assert all(r["outcome"] == "ok" and r["cost_usd"] is not None for r in rows)


def test_migrate_command_creates_the_schema_and_exits(tmp_path: Path) -> None:
    database = tmp_path / "nested" / "ledger.db"
    env = {**gateway_env("http://127.0.0.1:9/api/v1"), "DATABASE_URL": f"sqlite:///{database}"}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"],
        env={"PATH": os.environ["PATH"], **env},
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert asyncio.run(ledger_rows(f"sqlite:///{database}")) == []


async def test_processes_that_start_together_migrate_one_after_the_other(
    database_url: str,
) -> None:
    """Replicas (or workers) starting at once on a fresh database: each one's migration waits
    for the one before, then finds the schema there. Without that, one in three such starts
    of six processes failed ("table ai_calls already exists", or a duplicate pg_type row)."""
    env = {
        "PATH": os.environ["PATH"],
        **gateway_env("http://127.0.0.1:9/api/v1"),
        "DATABASE_URL": database_url,
    }
    command = [sys.executable, "-m", "app.cli", "migrate"]
    migrations = [
        await asyncio.create_subprocess_exec(
            *command, env=env, cwd=ROOT, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(6)
    ]
    said = [(await m.communicate())[1].decode() for m in migrations]
    assert [m.returncode for m in migrations] == [0] * 6, said
    assert await ledger_rows(database_url) == []

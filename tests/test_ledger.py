"""The usage ledger: one row per AI call, on SQLite and on the real PostgreSQL, written off the
request path, flushed at SIGTERM, and kept through a database outage (or counted when dropped)."""

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from app.config import Settings
from app.ledger.writer import LedgerWriter
from app.main import create_app
from tests.factories import asgi_receive, asgi_scope, make_settings, make_token
from tests.gateways import GatewayFactory
from tests.inprocess import CHAT_ANSWER, STREAM_ANSWER, asgi_client
from tests.ledger_support import (
    Forwarder,
    ledger_rows,
    postgres_role,
    postgres_url,
    wait_for_rows,
)
from tests.procs import ROOT, gateway_env

AUTH = {"Authorization": f"Bearer {make_token('user-7')}"}
HI = [{"role": "user", "content": "Hi"}]
SSE = {"content-type": "text/event-stream"}


def upstream(request: httpx.Request) -> httpx.Response:
    """OpenRouter's answers (tests/inprocess.py); the model `broken` gets a 400."""
    body = orjson.loads(request.content)
    if body["model"] == "broken":
        return httpx.Response(400, json={"error": {"message": "bad", "code": 400}})
    if body.get("stream"):
        return httpx.Response(200, content=STREAM_ANSWER, headers=SSE)
    return httpx.Response(200, json=CHAT_ANSWER)


def ledger_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "ledger_enabled": True,
        "database_url": database_url,
        "ledger_flush_s": 0.05,
        **overrides,
    }
    return make_settings(**values)


@asynccontextmanager
async def ledger_gateway(
    settings: Settings,
    handler: Callable[[httpx.Request], Any] = upstream,
) -> AsyncIterator[tuple[httpx.AsyncClient, LedgerWriter, Any]]:
    """The app with its lifespan (so the ledger migrates, writes and flushes on leaving)."""
    app = create_app(settings, transport=httpx.MockTransport(handler))
    async with asgi_client(app) as (client, state):
        yield client, app.state.ledger, (app, state)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    async with postgres_role() as role:
        yield postgres_url(role)


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


async def test_a_cancelled_stream_is_recorded_with_what_was_reported(tmp_path: Path) -> None:
    async def first_chunk_then_nothing() -> AsyncIterator[bytes]:
        yield b'data: {"id":"gen-3","model":"m-served","choices":[{"delta":{"content":"Hi"}}]}\n\n'
        await asyncio.sleep(30)

    def slow(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=first_chunk_then_nothing(), headers=SSE)

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    body = orjson.dumps({"model": "m", "messages": HI, "stream": True})
    sent: list[Any] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async with ledger_gateway(ledger_settings(url), slow) as (_client, _writer, (app, state)):
        scope = asgi_scope("POST", "/api/v1/chat/completions", state)
        await asyncio.wait_for(app(scope, asgi_receive(body, 0.3), send), timeout=5)
    rows = await ledger_rows(url)
    assert [(r["outcome"], r["generation_id"], r["cost_usd"]) for r in rows] == [
        ("cancelled", "gen-3", None)
    ]


def test_sigterm_writes_every_queued_row(gateway_factory: GatewayFactory, tmp_path: Path) -> None:
    calls = 12
    database = tmp_path / "ledger.db"
    process = gateway_factory.own(
        LEDGER_ENABLED="true",
        DATABASE_URL=f"sqlite:///{database}",
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
    rows = asyncio.run(ledger_rows(f"sqlite:///{database}"))
    assert len(rows) == calls
    assert all(r["outcome"] == "ok" and r["cost_usd"] is not None for r in rows)


async def test_an_outage_delays_rows_and_fails_no_call() -> None:
    forwarder = Forwarder()
    await forwarder.restore()
    async with postgres_role() as role:
        direct = postgres_url(role)
        settings = ledger_settings(postgres_url(role, forwarder.port))
        async with ledger_gateway(settings) as (client, writer, _app):
            body = {"model": "m", "messages": HI}
            assert (await client.post("/api/v1/chat/completions", json=body)).status_code == 401
            await client.post("/api/v1/chat/completions", json=body, headers=AUTH)
            await wait_for_rows(direct, 1)  # the unauthenticated call is not one
            await forwarder.cut()
            for _ in range(5):
                answer = await client.post("/api/v1/chat/completions", json=body, headers=AUTH)
                assert answer.status_code == 200
            await asyncio.sleep(0.5)
            assert len(await ledger_rows(direct)) == 1
            await forwarder.restore()
            rows = await wait_for_rows(direct, 6)
            assert writer.dropped == 0
        await forwarder.cut()
    assert [r["outcome"] for r in rows] == ["ok"] * 6


async def test_past_the_queue_bound_rows_are_dropped_counted_and_warned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    forwarder = Forwarder()
    await forwarder.restore()
    async with postgres_role() as role:
        direct = postgres_url(role)
        settings = ledger_settings(postgres_url(role, forwarder.port), ledger_queue_max=5)
        with caplog.at_level(logging.WARNING, logger="app.ledger"):
            async with ledger_gateway(settings) as (client, writer, _app):
                await forwarder.cut()
                body = {"model": "m", "messages": HI}
                for _ in range(8):
                    answer = await client.post("/api/v1/chat/completions", json=body, headers=AUTH)
                    assert answer.status_code == 200
                assert writer.dropped == 3
                await forwarder.restore()
                await wait_for_rows(direct, 5)
        await forwarder.cut()
    drops = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert drops == ["ledger: queue full (5 rows waiting); dropped 3 call rows"]


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

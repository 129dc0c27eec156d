"""The ledger when its database is away: AI calls never fail, rows wait and arrive when it
returns (or are dropped, counted and warned past the queue's bound), a gateway that starts
without it serves calls and migrates later, and the routes that read it answer 503, never 500."""

import asyncio
import logging
import os
import subprocess
import sys

import pytest

from tests.factories import API_KEY
from tests.ledger_support import (
    AUTH,
    HI,
    Forwarder,
    ledger_gateway,
    ledger_rows,
    ledger_settings,
    postgres_role,
    postgres_url,
    wait_for_rows,
)
from tests.procs import ROOT, gateway_env

ADMIN = {"x-api-key": API_KEY}
CHAT = {"model": "m", "messages": HI}


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


async def test_a_gateway_started_without_its_database_serves_and_migrates_when_it_returns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    forwarder = Forwarder()
    await forwarder.restore()
    await forwarder.cut()  # the port is known, and nothing listens on it
    async with postgres_role() as role:
        direct = postgres_url(role)
        settings = ledger_settings(postgres_url(role, forwarder.port))
        with caplog.at_level(logging.WARNING, logger="app.ledger"):
            async with ledger_gateway(settings) as (client, writer, _app):
                for path in ("/api/v1/chat/completions", "/api/ai/chat/completion") * 2:
                    answer = await client.post(path, json=CHAT, headers=AUTH)
                    assert answer.status_code == 200
                usage = await client.get("/api/ai/usage", headers=ADMIN)
                assert usage.status_code == 503
                assert usage.headers["retry-after"] == "5"
                assert usage.json()["error"] == "LEDGER_UNAVAILABLE"
                mine = await client.get("/api/v1/usage", headers=AUTH)
                assert mine.status_code == 503
                assert mine.json()["error"]["type"] == "api_error"
                await forwarder.restore()
                rows = await wait_for_rows(direct, 4)
                assert writer.dropped == 0
                usage = await client.get("/api/ai/usage", headers=ADMIN)
                assert usage.status_code == 200
                assert len(usage.json()["records"]) == 4
        await forwarder.cut()
    assert [r["outcome"] for r in rows] == ["ok"] * 4
    said = [r.getMessage() for r in caplog.records]
    assert sum("database unavailable at start-up" in m for m in said) == 1
    # The legacy calls look up their AI configuration: one attempt and one warning per outage,
    # not one per call.
    assert sum("ai configurations: cannot read" in m for m in said) == 1
    assert "ledger: database back; writing the 4 waiting rows" in said
    assert not any(role in m or "postgresql://" in m for m in said)  # no URL, no credentials


async def test_the_routes_that_read_the_ledger_answer_503_while_it_is_away() -> None:
    forwarder = Forwarder()
    await forwarder.restore()
    async with postgres_role() as role:
        settings = ledger_settings(postgres_url(role, forwarder.port))
        async with ledger_gateway(settings) as (client, _writer, _app):
            await forwarder.cut()
            for method, path, headers in [
                ("GET", "/api/ai/usage", ADMIN),
                ("GET", "/api/ai/usage/summary", ADMIN),
                ("GET", "/api/ai/configurations", ADMIN),
                ("POST", "/api/ai/configurations", ADMIN),
                ("GET", "/api/v1/usage", AUTH),
                ("GET", "/api/v1/generation?id=gen-1", AUTH),
            ]:
                body = {"modelId": "openai/gpt-4o", "provider": "openrouter",
                        "inputModality": ["text"], "outputModality": ["text"]}  # fmt: skip
                answer = await client.request(
                    method, path, headers=headers, json=body if method == "POST" else None
                )
                assert answer.status_code == 503, (path, answer.text)
                assert "cannot reach its database" in answer.text
            answer = await client.post("/api/v1/chat/completions", json=CHAT, headers=AUTH)
            assert answer.status_code == 200
            await forwarder.restore()
        await forwarder.cut()


def test_migrate_without_a_database_says_so_in_one_line() -> None:
    env = {
        **gateway_env("http://127.0.0.1:9/api/v1"),
        "DATABASE_URL": "postgresql://nobody:secret-pw@127.0.0.1:9/none",
    }
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"],
        env={"PATH": os.environ["PATH"], **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(
        "ai-gateway migrate: the database refused or could not be reached ("
    )
    assert "Traceback" not in done.stderr
    assert "secret-pw" not in done.stderr

"""The compose shape, natively (there is no Docker engine here): two gateway processes configured
as docker-compose.yml's replicas are, against the one Redis and PostgreSQL on this machine and
the mock OpenRouter, with calls alternated over them as the proxy does. Both serve; a limit per
minute holds across both (Redis); the one ledger (PostgreSQL) has one row per call, whichever
process took it.

The database is a schema of its own in `test` (tests/ledger_support.py), so the ledger's rows
are this test's alone; the user is new per run, so Redis's counters are too."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import yaml

from tests.factories import API_KEY, make_token
from tests.gateways import GatewayFactory
from tests.ledger_support import postgres_role, postgres_url, wait_for_rows
from tests.procs import ROOT, GatewayProcess

REDIS_URL = "redis://127.0.0.1:6379/0"
LEGACY = "/api/ai/chat/completion"
CALL = {"model": "mock/text", "messages": [{"role": "user", "content": "Hi"}]}
# Below the calls made, above what one process alone takes; a call is earned back every 60/RPM
# s (15 s), far longer than the calls take, so none is earned back meanwhile.
RPM = 4
CALLS = 8


def replica_env(database_url: str) -> dict[str, str]:
    """The compose gateway's environment, with this machine's Redis and PostgreSQL for the
    compose network's, less the address and ports (two processes on one host cannot share
    them; each gets a free port, and the metrics listener has tests of its own)."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env: dict[str, str] = dict(compose["services"]["gateway"]["environment"])
    for name in ("HOST", "PORT", "METRICS_PORT"):
        env.pop(name, None)
    assert {"REDIS_URL", "DATABASE_URL"} <= env.keys()
    return {**env, "REDIS_URL": REDIS_URL, "DATABASE_URL": database_url}


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    async with postgres_role() as role:
        yield postgres_url(role)


def replicas(factory: GatewayFactory, database_url: str) -> list[GatewayProcess]:
    env = {
        **replica_env(database_url),
        "LEDGER_ENABLED": "true",
        "LEDGER_FLUSH_S": "0.1",
        "QUOTA_RPM": str(RPM),
    }
    return [factory.own(**env) for _ in range(2)]


async def usage_total(client: httpx.AsyncClient, gateway: GatewayProcess) -> Any:
    """The admin route's count (it flushes this process's pending rows first)."""
    answer = await client.get(
        f"{gateway.url}/api/ai/usage", params={"limit": 100}, headers={"x-api-key": API_KEY}
    )
    assert answer.status_code == 200
    return answer.json()


async def test_two_replicas_share_the_limits_and_one_ledger(
    gateway_factory: GatewayFactory, database_url: str
) -> None:
    gateways = replicas(gateway_factory, database_url)
    user = f"deploy-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {make_token(user)}"}
    answers: list[tuple[int, httpx.Response]] = []
    async with httpx.AsyncClient(timeout=30) as client:
        for gateway in gateways:  # both reach the shared database and Redis (the readiness probe)
            ready = await client.get(f"{gateway.url}/readyz")
            assert ready.json() == {"status": "ready", "checks": {"ledger": "ok", "redis": "ok"}}
        for n in range(CALLS):  # in turn, as the proxy's round-robin
            replica = n % 2
            url = f"{gateways[replica].url}{LEGACY}"
            answers.append((replica, await client.post(url, json=CALL, headers=headers)))
        # The rows reach the database in batches: the admin route flushes the process it asks.
        first, second = [await usage_total(client, g) for g in gateways]

    statuses = [answer.status_code for _, answer in answers]
    assert statuses == [200] * RPM + [429] * (CALLS - RPM)
    served = [replica for replica, answer in answers if answer.status_code == 200]
    refused = [replica for replica, answer in answers if answer.status_code == 429]
    # Each process served fewer than RPM itself, and both refused: the count is shared.
    assert sorted(served) == [0] * (RPM // 2) + [1] * (RPM // 2)
    assert set(refused) == {0, 1}
    assert all(a.json()["error"] == "AI_RATE_LIMIT" for _, a in answers if a.status_code == 429)

    # Every call has its row, refused ones too (the ledger records every outcome), with the
    # status it was answered with, written by whichever process took it; none twice.
    answered = {a.headers["x-request-id"]: a.status_code for _, a in answers}
    rows = await wait_for_rows(database_url, CALLS)
    assert len(rows) == CALLS
    assert {row["request_id"]: row["status"] for row in rows} == answered
    assert {row["user_id"] for row in rows} == {user}
    # Either replica's admin route reads the one ledger: the served (billable) calls of both.
    billable = {str(row["id"]) for row in rows if row["status"] == 200}
    assert len(billable) == RPM
    assert first["total"] <= second["total"] == RPM
    assert {record["id"] for record in second["records"]} == billable

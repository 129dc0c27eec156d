"""Reading the ledger back: the legacy admin usage routes, `/api/v1/generation` and
`/api/v1/usage`, in-process on SQLite (and the summary on PostgreSQL), and the Python SDK's
usage calls against a gateway process. Every call is read back right after it was made: the
routes flush the ledger's writer first (its own period is a second)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
from insforge import InsforgeClient
from insforge.ai.models import AIChatMessage
from insforge.exceptions import InsforgeHTTPError
from sqlalchemy import update

from app.config import Settings
from app.ledger.database import create_engine
from app.ledger.queries import Scope, summarize
from app.ledger.schema import ai_calls
from app.main import create_app
from tests.factories import ANON_KEY, API_KEY, make_settings, make_token
from tests.gateways import GatewayFactory
from tests.inprocess import asgi_client
from tests.ledger_support import postgres_role, postgres_url

ADMIN = {"x-api-key": API_KEY}
SDK_AGENT = {"User-Agent": "InsForge-Python/0.1.0"}
ALICE, BOB = "user-alice", "user-bob"
COST_STEP = 0.00125  # USD; call n costs n steps


def bearer(sub: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(sub, **claims)}"}


class Upstream:
    """OpenRouter for these tests: call n is `gen-n` with 10n prompt tokens, n completion
    tokens and n cost steps; `GET /generation` answers its record. Records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "GET" and request.url.path.endswith("/generation"):
            gen_id = request.url.params["id"]
            return httpx.Response(200, json={"data": {"id": gen_id, "total_cost": 0.5}})
        self.calls += 1
        n, body = self.calls, orjson.loads(request.content)
        answer = {
            "id": f"gen-{n}",
            "model": f"{body['model']}-served",
            "provider": "P",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}],
            "usage": {
                "prompt_tokens": 10 * n,
                "completion_tokens": n,
                "total_tokens": 11 * n,
                "cost": n * COST_STEP,
            },
        }
        return httpx.Response(200, json=answer, headers={"X-Generation-Id": f"gen-{n}"})

    def generation_requests(self) -> list[str]:
        return [str(r.url) for r in self.requests if r.url.path.endswith("/generation")]


@asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Upstream]]:
    upstream = Upstream()
    app = create_app(settings, transport=httpx.MockTransport(upstream))
    async with asgi_client(app) as (client, _state):
        yield client, upstream


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


async def make_calls(client: httpx.AsyncClient) -> None:
    """gen-1 and gen-2 by Alice (models a, b; OpenAI surface), gen-3 by Bob (model a; legacy)."""
    for model in ("m/a", "m/b"):
        body = {"model": model, "messages": [{"role": "user", "content": "Hi"}]}
        resp = await client.post("/api/v1/chat/completions", json=body, headers=bearer(ALICE))
        assert resp.status_code == 200, resp.text
    body = {"model": "m/a", "messages": [{"role": "user", "content": "Hi"}]}
    resp = await client.post("/api/ai/chat/completion", json=body, headers=bearer(BOB))
    assert resp.status_code == 200, resp.text


@pytest.fixture
async def ledger_gateway(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Upstream]]:
    settings = make_settings(ledger_enabled=True, database_url=sqlite_url(tmp_path))
    async with gateway(settings) as (client, upstream):
        await make_calls(client)
        yield client, upstream


async def test_usage_lists_every_call_as_the_upstream_reported_it(
    ledger_gateway: tuple[httpx.AsyncClient, Upstream],
) -> None:
    client, _ = ledger_gateway
    resp = await client.get("/api/ai/usage", headers=ADMIN)
    assert resp.status_code == 200
    page = resp.json()
    assert page["total"] == 3
    records = page["records"]
    assert [r["generationId"] for r in records] == ["gen-3", "gen-2", "gen-1"]  # newest first
    for record, n in zip(records, (3, 2, 1), strict=True):
        assert (record["inputTokens"], record["outputTokens"]) == (10 * n, n)
        assert (record["promptTokens"], record["completionTokens"]) == (10 * n, n)
        assert record["totalTokens"] == 11 * n
        assert record["cost"] == n * COST_STEP
    assert [r["userId"] for r in records] == [BOB, ALICE, ALICE]
    assert [r["modelId"] for r in records] == ["m/a", "m/b", "m/a"]
    assert records[1]["model"] == "m/b-served"
    assert datetime.fromisoformat(records[0]["createdAt"]).tzinfo is not None


async def test_usage_pages_and_the_python_sdk_gets_a_bare_array(
    ledger_gateway: tuple[httpx.AsyncClient, Upstream],
) -> None:
    client, _ = ledger_gateway
    first = (await client.get("/api/ai/usage?limit=2&offset=0", headers=ADMIN)).json()
    rest = (await client.get("/api/ai/usage?limit=2&offset=2", headers=ADMIN)).json()
    assert [r["generationId"] for r in first["records"]] == ["gen-3", "gen-2"]
    assert [r["generationId"] for r in rest["records"]] == ["gen-1"]
    assert first["total"] == rest["total"] == 3
    sdk = await client.get("/api/ai/usage?limit=1", headers={**ADMIN, **SDK_AGENT})
    assert [r["generationId"] for r in sdk.json()] == ["gen-3"]
    bad = await client.get("/api/ai/usage?limit=0", headers=ADMIN)
    assert (bad.status_code, bad.json()["error"]) == (400, "INVALID_INPUT")


async def test_dates_bound_every_route(ledger_gateway: tuple[httpx.AsyncClient, Upstream]) -> None:
    client, _ = ledger_gateway
    now = datetime.now(UTC)
    hour_ago = (now - timedelta(hours=1)).isoformat()
    in_an_hour = (now + timedelta(hours=1)).isoformat()
    params: dict[str, str] = {"startDate": hour_ago, "endDate": in_an_hour}
    page = (await client.get("/api/ai/usage", params=params, headers=ADMIN)).json()
    assert page["total"] == 3
    for past_or_future in ({"endDate": hour_ago}, {"startDate": in_an_hour}):
        page = (await client.get("/api/ai/usage", params=past_or_future, headers=ADMIN)).json()
        assert page == {"records": [], "total": 0}
        summary = await client.get("/api/ai/usage/summary", params=past_or_future, headers=ADMIN)
        assert summary.json()["totalRequests"] == 0
        assert summary.json()["byModel"] == {}
    yesterday = (now - timedelta(days=1)).date().isoformat()
    mine = await client.get(
        f"/api/v1/usage?start={yesterday}&end={yesterday}", headers=bearer(ALICE)
    )
    assert mine.json()["range"]["requests"] == 0
    bad = await client.get("/api/ai/usage?startDate=yesterday", headers=ADMIN)
    assert bad.status_code == 400


async def test_summary_totals_per_model_and_per_user(
    ledger_gateway: tuple[httpx.AsyncClient, Upstream],
) -> None:
    client, _ = ledger_gateway
    summary = (await client.get("/api/ai/usage/summary", headers=ADMIN)).json()
    assert summary["totalRequests"] == 3
    assert (summary["totalInputTokens"], summary["totalOutputTokens"]) == (60, 6)
    assert summary["totalTokens"] == 66
    assert summary["totalCost"] == pytest.approx(6 * COST_STEP)
    assert summary["byModel"]["m/a"]["requests"] == 2
    assert summary["byModel"]["m/a"]["tokens"] == 11 + 33
    assert summary["byModel"]["m/a"]["cost"] == pytest.approx(4 * COST_STEP)
    assert summary["byModel"]["m/b"]["cost"] == pytest.approx(2 * COST_STEP)
    assert "byUser" not in summary
    by_user = (await client.get("/api/ai/usage/summary?groupBy=user", headers=ADMIN)).json()
    assert by_user["byUser"][ALICE]["requests"] == 2
    assert by_user["byUser"][ALICE]["cost"] == pytest.approx(3 * COST_STEP)
    assert by_user["byUser"][BOB]["tokens"] == 33


async def test_usage_by_configuration(
    ledger_gateway: tuple[httpx.AsyncClient, Upstream], tmp_path: Path
) -> None:
    client, _ = ledger_gateway
    assert (await client.get("/api/ai/usage", headers=ADMIN)).json()["total"] == 3  # written
    engine = create_engine(make_settings(database_url=sqlite_url(tmp_path)))
    try:
        async with engine.begin() as connection:
            where = ai_calls.c.generation_id.in_(["gen-1", "gen-3"])
            await connection.execute(update(ai_calls).where(where).values(config_id="cfg-1"))
    finally:
        await engine.dispose()
    records = (await client.get("/api/ai/usage/config/cfg-1", headers=ADMIN)).json()
    assert [r["generationId"] for r in records] == ["gen-3", "gen-1"]
    assert {r["configId"] for r in records} == {"cfg-1"}
    summary = (await client.get("/api/ai/usage/summary?configId=cfg-1", headers=ADMIN)).json()
    assert (summary["totalRequests"], summary["totalTokens"]) == (2, 44)
    assert (await client.get("/api/ai/usage/config/none", headers=ADMIN)).json() == []
    # Unpaged as the legacy route was, up to a bound; a page when asked; the count in a header.
    assert (await client.get("/api/ai/usage/config/cfg-1", headers=ADMIN)).headers[
        "x-total-count"
    ] == "2"
    page = await client.get("/api/ai/usage/config/cfg-1?limit=1&offset=1", headers=ADMIN)
    assert [r["generationId"] for r in page.json()] == ["gen-1"]
    assert page.headers["x-total-count"] == "2"
    too_many = await client.get("/api/ai/usage/config/cfg-1?limit=100000", headers=ADMIN)
    assert too_many.status_code == 400


async def test_own_usage_today_and_this_month(
    ledger_gateway: tuple[httpx.AsyncClient, Upstream],
) -> None:
    client, _ = ledger_gateway
    today = datetime.now(UTC).date().isoformat()
    mine = (await client.get(f"/api/v1/usage?start={today}", headers=bearer(ALICE))).json()
    assert mine["user"] == ALICE
    for period in ("today", "month", "range"):
        assert mine[period]["requests"] == 2
        assert (mine[period]["prompt_tokens"], mine[period]["completion_tokens"]) == (30, 3)
        assert mine[period]["cost"] == pytest.approx(3 * COST_STEP)
    bobs = (await client.get("/api/v1/usage", headers=bearer(BOB))).json()
    assert (bobs["today"]["total_tokens"], "range" in bobs) == (33, False)


async def test_generation_only_for_its_caller_or_an_admin(
    ledger_gateway: tuple[httpx.AsyncClient, Upstream],
) -> None:
    client, upstream = ledger_gateway
    own = await client.get("/api/v1/generation?id=gen-1", headers=bearer(ALICE))
    assert own.status_code == 200
    assert own.json() == {"data": {"id": "gen-1", "total_cost": 0.5}}
    assert len(upstream.generation_requests()) == 1
    for unknown in ("gen-3", "gen-99"):  # Bob's, and nobody's
        resp = await client.get(f"/api/v1/generation?id={unknown}", headers=bearer(ALICE))
        assert resp.status_code == 404
        assert resp.json()["error"]["type"] == "not_found_error"
    assert len(upstream.generation_requests()) == 1
    admin = await client.get("/api/v1/generation?id=gen-3", headers=ADMIN)
    assert admin.json()["data"]["id"] == "gen-3"
    assert upstream.generation_requests()[-1].endswith("/generation?id=gen-3")
    sent = next(r for r in upstream.requests if r.method == "GET")
    assert sent.headers["authorization"].startswith("Bearer sk-or-v1-")  # the gateway's key


async def test_auth(ledger_gateway: tuple[httpx.AsyncClient, Upstream]) -> None:
    client, upstream = ledger_gateway
    admin_paths = ("/api/ai/usage", "/api/ai/usage/summary", "/api/ai/usage/config/c")
    for path in admin_paths:
        assert (await client.get(path)).status_code == 401
        refused = await client.get(path, headers=bearer(ALICE))
        assert (refused.status_code, refused.json()["error"]) == (403, "AUTH_UNAUTHORIZED")
        admin_jwt = bearer("admin-1", role="project_admin")
        assert (await client.get(path, headers=admin_jwt)).status_code == 200
    for path in ("/api/v1/usage", "/api/v1/generation?id=gen-1"):
        resp = await client.get(path)
        assert resp.status_code == 401
        assert resp.json()["error"]["type"] == "authentication_error"
    assert upstream.generation_requests() == []


async def test_routes_answer_503_while_the_ledger_is_off() -> None:
    async with gateway(make_settings()) as (client, upstream):
        legacy = await client.get("/api/ai/usage/summary", headers=ADMIN)
        assert (legacy.status_code, legacy.json()["error"]) == (503, "LEDGER_DISABLED")
        v1 = await client.get("/api/v1/generation?id=gen-1", headers=bearer(ALICE))
        assert (v1.status_code, v1.json()["error"]["code"]) == (503, "ledger_disabled")
        assert (await client.get("/api/ai/usage")).status_code == 401  # auth first
    assert upstream.requests == []


async def test_summary_on_postgresql() -> None:
    async with postgres_role() as role:
        url = postgres_url(role)
        async with gateway(make_settings(ledger_enabled=True, database_url=url)) as (client, _):
            await make_calls(client)
            summary = (await client.get("/api/ai/usage/summary?groupBy=user", headers=ADMIN)).json()
            page = (await client.get("/api/ai/usage?limit=1&offset=1", headers=ADMIN)).json()
            mine = (await client.get("/api/v1/usage", headers=bearer(ALICE))).json()
        engine = create_engine(make_settings(database_url=url))
        try:
            direct = await summarize(engine, Scope(user_id=BOB))
        finally:
            await engine.dispose()
    assert (summary["totalRequests"], summary["totalTokens"]) == (3, 66)
    assert summary["totalCost"] == pytest.approx(6 * COST_STEP)
    assert summary["byModel"]["m/b"] == {
        "requests": 1,
        "inputTokens": 20,
        "outputTokens": 2,
        "tokens": 22,
        "imageCount": 0,
        "cost": pytest.approx(2 * COST_STEP),
    }
    assert summary["byUser"][BOB]["requests"] == 1
    assert ([r["generationId"] for r in page["records"]], page["total"]) == (["gen-2"], 3)
    assert mine["month"]["requests"] == 2
    assert (direct.totals.requests, list(direct.by_model)) == (1, ["m/a"])


async def test_python_sdk_reads_usage(gateway_factory: GatewayFactory, tmp_path: Path) -> None:
    process = gateway_factory.own(LEDGER_ENABLED="true", DATABASE_URL=sqlite_url(tmp_path))
    admin = InsforgeClient(base_url=process.url, api_key=API_KEY)
    user = InsforgeClient(base_url=process.url, api_key=ANON_KEY)
    try:
        answer = await user.ai.chat_completion(
            model="mock/text",
            messages=[AIChatMessage(role="user", content="Hi")],
            access_token=make_token("user-py"),
        )
        usage = answer.metadata.usage if answer.metadata else None
        records = await admin.ai.get_usage(limit=10, offset=0)
        summary = await admin.ai.get_usage_summary(
            start_date=datetime.now(UTC) - timedelta(hours=1)
        )
        by_config = await admin.ai.get_usage_by_configuration("no-such-config")
        with pytest.raises(InsforgeHTTPError) as caught:
            await user.ai.get_usage(access_token=make_token("user-py"))
    finally:
        await admin.aclose()
        await user.aclose()
    assert len(records) == 1
    record = records[0]
    assert record.model_id == "mock/text"
    assert usage is not None
    assert (record.prompt_tokens, record.completion_tokens) == (
        usage.prompt_tokens,
        usage.completion_tokens,
    )
    assert record.cost is not None
    assert record.cost > 0
    assert record.created_at is not None
    assert summary.total_requests == 1
    assert summary.total_cost == pytest.approx(record.cost)
    assert summary.by_model["mock/text"].tokens == record.total_tokens
    assert by_config == []
    assert caught.value.status_code == 403


async def test_a_stream_s_generation_is_found_as_soon_as_its_last_event_is_read(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    """The call is recorded when the relay ends, before the upstream is closed and the
    response finished: a caller who asks at once never gets a 404 for its own generation."""
    process = gateway_factory.own(LEDGER_ENABLED="true", DATABASE_URL=sqlite_url(tmp_path))
    token = make_token("user-fast")
    client = openai.AsyncOpenAI(base_url=f"{process.url}/api/v1", api_key=token)
    found = []
    async with client, httpx.AsyncClient(base_url=process.url) as plain:
        for _ in range(20):
            stream = await client.chat.completions.create(
                model="mock/text", messages=[{"role": "user", "content": "Hi"}], stream=True
            )
            ids = {chunk.id async for chunk in stream}
            (generation_id,) = ids
            answer = await plain.get(
                "/api/v1/generation",
                params={"id": generation_id},
                headers={"Authorization": f"Bearer {token}"},
            )
            found.append(answer.status_code)
    assert found == [200] * 20

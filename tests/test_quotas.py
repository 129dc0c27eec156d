"""Quotas through the app in-process, on both surfaces: refusals before anything goes upstream,
the 429s and headers each surface's clients read, settlement with what the upstream reported
(or, not knowing, the worst case), the admin unlimited, and QUOTA_FAIL_MODE with Redis away.
The stores' own arithmetic: tests/test_quota_stores.py; several processes: test_quotas_wire.py."""

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest

from app.config import Settings
from app.main import create_app
from app.quotas.limits import Limits
from tests.factories import API_KEY, make_settings, make_token
from tests.inprocess import CHAT_ANSWER, STREAM_ANSWER, asgi_client
from tests.ledger_support import Forwarder

PROMPT_PRICE, COMPLETION_PRICE = 0.000001, 0.000002
MODELS = {
    "data": [
        {"id": "m", "pricing": {"prompt": str(PROMPT_PRICE), "completion": str(COMPLETION_PRICE)}},
        {"id": "dear", "pricing": {"prompt": "0.00001", "completion": "0.00003"}},
        {
            "id": "hold",
            "pricing": {"prompt": str(PROMPT_PRICE), "completion": str(COMPLETION_PRICE)},
        },
    ]
}
LEGACY, V1 = "/api/ai/chat/completion", "/api/v1/chat/completions"
HI = [{"role": "user", "content": "Hi"}]
SSE = {"content-type": "text/event-stream"}
REDIS_URL = "redis://127.0.0.1:6379/0"


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user)}"}


class Upstream:
    """OpenRouter's answers; `chat` counts the chat requests that reached it. The model
    `broken` gets a 500; `hold` waits for `release` before it answers."""

    def __init__(self) -> None:
        self.chat = 0
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=MODELS)
        body = orjson.loads(request.content)
        self.chat += 1
        if body["model"] == "broken":
            return httpx.Response(500, json={"error": {"message": "down", "code": 500}})
        if body["model"] == "hold":
            self.holding.set()
            await self.release.wait()
        if body.get("stream"):
            return httpx.Response(200, content=STREAM_ANSWER, headers=SSE)
        return httpx.Response(200, json=CHAT_ANSWER)


@pytest.fixture(params=["memory", "redis"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """Each test on both stores: this process's memory, and the real Redis."""
    return None if request.param == "memory" else REDIS_URL


@pytest.fixture
def who() -> str:
    """A caller of the test's own: Redis keeps its counts from one run to the next."""
    return f"user-{uuid.uuid4().hex[:10]}"


@asynccontextmanager
async def quota_gateway(
    store_url: str | None = None, **limits: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Upstream, Any]]:
    if store_url is not None:
        limits.setdefault("redis_url", store_url)
    settings: Settings = make_settings(upstream_max_retries=0, **limits)
    upstream = Upstream()
    app = create_app(settings, transport=httpx.MockTransport(upstream))
    async with asgi_client(app) as (client, _state):
        yield client, upstream, app


def body(_path: str, model: str = "m", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": HI, **extra}


async def used(app: Any, user: str, limits: Limits) -> dict[str, float]:
    """What `user` has used of each limit, from whichever store the app runs."""
    await app.state.quotas.drain()
    found = await app.state.quotas.store.standing(user, limits, time.time())
    return {s.kind: s.limit - s.remaining for s in found}


@pytest.mark.parametrize("path", [LEGACY, V1])
async def test_requests_per_minute_refused_before_the_upstream(
    path: str, store_url: str | None, who: str
) -> None:
    async with quota_gateway(store_url, quota_rpm=2) as (client, upstream, _app):
        answers = [await client.post(path, json=body(path), headers=bearer(who)) for _ in range(3)]
        other = await client.post(path, json=body(path), headers=bearer(who + "-2"))
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert other.status_code == 200
    assert upstream.chat == 3  # the refused call never went upstream
    first, refused = answers[0], answers[2]
    assert first.headers["x-ratelimit-limit"] == "2"
    assert first.headers["x-ratelimit-remaining"] == "1"
    assert int(first.headers["x-ratelimit-reset"]) in (30, 31)
    assert refused.headers["retry-after"] == "30"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    if path == LEGACY:
        error = refused.json()
        assert list(error) == ["error", "message", "statusCode", "nextActions"]
        assert (error["error"], error["statusCode"]) == ("AI_RATE_LIMIT", 429)
        assert "2 requests per minute" in error["message"]
        assert "in 30 s" in error["message"]
    else:
        error = refused.json()["error"]
        assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")


async def test_a_stream_is_refused_before_its_first_byte_when_too_many_are_in_flight(
    store_url: str | None, who: str
) -> None:
    async with quota_gateway(store_url, quota_concurrent_streams=1) as (client, upstream, _app):
        held = asyncio.create_task(
            client.post(V1, json=body(V1, "hold", stream=True), headers=bearer(who))
        )
        await upstream.holding.wait()
        legacy = await client.post(LEGACY, json=body(LEGACY, stream=True), headers=bearer(who))
        v1_json = await client.post(V1, json=body(V1), headers=bearer(who))
        upstream.release.set()
        assert (await held).status_code == 200
        after = await client.post(V1, json=body(V1), headers=bearer(who))
    assert legacy.status_code == 429
    assert legacy.headers["content-type"].startswith("application/json")
    assert legacy.json()["error"] == "AI_CONCURRENCY_LIMIT"
    assert v1_json.json()["error"]["code"] == "concurrency_limit_exceeded"
    assert after.status_code == 200
    assert upstream.chat == 2


async def test_spend_is_reserved_at_the_worst_case_and_settled_at_the_reported_cost(
    store_url: str | None, who: str
) -> None:
    # One call's worst case: 1 message of "Hi" (2 chars + 8) in, 100 out at the catalog's prices.
    worst = 10 * PROMPT_PRICE + 100 * COMPLETION_PRICE
    # The reported cost (tests/inprocess.py) is 0.00042: more than the worst case of these tiny
    # calls, so each settles above its reservation. A budget of 2.5 worst cases...
    async with quota_gateway(store_url, quota_usd_per_day=2.5 * worst) as (client, upstream, app):
        first = await client.post(V1, json=body(V1, max_tokens=100), headers=bearer(who))
        spent = await used(app, who, Limits(usd_per_day=1.0))
        second = await client.post(V1, json=body(V1, max_tokens=100), headers=bearer(who))
    # ...admits the first call; then the settled 0.00042 leaves too little for another.
    assert first.status_code == 200
    assert spent["usd_per_day"] == pytest.approx(CHAT_ANSWER["usage"]["cost"])  # type: ignore[index]
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "spend_limit_exceeded"
    assert upstream.chat == 1


async def test_an_unknown_model_is_priced_at_the_dearest_catalog_prices(
    store_url: str | None, who: str
) -> None:
    dear = 10 * 0.00001 + 100 * 0.00003
    async with quota_gateway(store_url, quota_usd_per_day=dear * 0.99) as (client, upstream, _app):
        refused = await client.post(
            V1, json=body(V1, "new/model", max_tokens=100), headers=bearer(who)
        )
        cheap = await client.post(V1, json=body(V1, "m", max_tokens=100), headers=bearer(who))
    assert refused.status_code == 429
    assert cheap.status_code == 200
    assert upstream.chat == 1


@pytest.mark.parametrize(
    ("model", "stream", "tokens", "usd"),
    [
        ("m", True, 5, 0.0007),  # a completed stream: what its last chunk reported
        ("broken", False, 0, 0.0),  # an upstream error with no usage: nothing
    ],
)
async def test_settlement_after_the_call(
    model: str, stream: bool, tokens: int, usd: float, store_url: str | None, who: str
) -> None:
    async with quota_gateway(store_url, quota_tokens_per_day=100_000, quota_usd_per_day=10.0) as (
        client,
        _upstream,
        app,
    ):
        await client.post(
            V1, json=body(V1, model, stream=stream, max_tokens=50), headers=bearer(who)
        )
        now_used = await used(app, who, Limits(tokens_per_day=100_000, usd_per_day=10.0))
    assert now_used["tokens_per_day"] == tokens  # nothing held any more: all settled
    assert now_used["usd_per_day"] == pytest.approx(usd)


async def test_a_call_that_reported_nothing_but_may_have_spent_is_charged_its_reservation(
    store_url: str | None, who: str
) -> None:
    async with quota_gateway(store_url, quota_tokens_per_day=100_000) as (client, _upstream, app):
        quotas, hooks = app.state.quotas, app.state.pipeline.record
        admitted: list[Any] = []

        def reported_nothing(call: Any, _outcome: Any) -> None:
            admitted.append(call.reservation)  # as a stream cut off before its usage chunk
            call.usage.prompt_tokens = call.usage.completion_tokens = call.usage.cost_usd = None

        hooks.insert(hooks.index(quotas.record), reported_nothing)
        await client.post(V1, json=body(V1, max_tokens=50), headers=bearer(who))
        now_used = await used(app, who, Limits(tokens_per_day=100_000))
    _reservation, need = admitted[0]
    assert now_used["tokens_per_day"] == need[0] == 10 + 50


async def test_the_admin_is_not_limited(store_url: str | None) -> None:
    async with quota_gateway(store_url, quota_rpm=1) as (client, upstream, _app):
        for _ in range(3):
            answer = await client.post(V1, json=body(V1), headers={"x-api-key": API_KEY})
            assert answer.status_code == 200
            assert "x-ratelimit-limit" not in answer.headers
    assert upstream.chat == 3


async def test_no_limits_set_means_no_quota_stage(store_url: str | None, who: str) -> None:
    async with quota_gateway(store_url) as (client, _upstream, app):
        answer = await client.post(V1, json=body(V1), headers=bearer(who))
    assert app.state.quotas is None
    assert "x-ratelimit-limit" not in answer.headers


@pytest.mark.parametrize("mode", ["closed", "open"])
async def test_redis_away(mode: str, caplog: pytest.LogCaptureFixture, who: str) -> None:
    limits = {"quota_rpm": 5, "redis_url": "redis://127.0.0.1:1/0", "quota_fail_mode": mode}
    with caplog.at_level(logging.WARNING, logger="app.quotas"):
        async with quota_gateway(None, **limits) as (client, upstream, _app):
            answers = [
                await client.post(p, json=body(p), headers=bearer(who)) for p in (LEGACY, V1) * 2
            ]
    said = [r.getMessage() for r in caplog.records if "limit store" in r.getMessage()]
    assert len(said) == 1  # once per outage, not per call
    if mode == "closed":
        assert [a.status_code for a in answers] == [503] * 4
        assert answers[0].json()["error"] == "AI_LIMITS_UNAVAILABLE"
        assert answers[1].json()["error"]["code"] == "limits_unavailable"
        assert "limit store is unreachable" in answers[1].text
        assert upstream.chat == 0
    else:
        assert [a.status_code for a in answers] == [200] * 4


async def test_the_caller_sees_its_own_limits(store_url: str | None, who: str) -> None:
    limits = {"quota_rpm": 10, "quota_usd_per_day": 1.0, "quota_concurrent_streams": 4}
    async with quota_gateway(store_url, **limits) as (client, _upstream, app):
        await client.post(V1, json=body(V1), headers=bearer(who))
        await app.state.quotas.drain()
        mine = await client.get("/api/v1/limits", headers=bearer(who))
        admin = await client.get("/api/v1/limits", headers={"x-api-key": API_KEY})
        anonymous = await client.get("/api/v1/limits")
    assert mine.status_code == 200
    answer = mine.json()
    assert (answer["object"], answer["user"]) == ("limits", who)
    by_kind = {item["kind"]: item for item in answer["limits"]}
    assert set(by_kind) == {"concurrent_calls", "requests_per_minute", "usd_per_day"}
    rpm = by_kind["requests_per_minute"]
    assert (rpm["limit"], rpm["used"], rpm["remaining"], rpm["resets_in_s"]) == (10, 1, 9, 6)
    usd = by_kind["usd_per_day"]
    assert usd["used"] == pytest.approx(CHAT_ANSWER["usage"]["cost"])  # type: ignore[index]
    assert usd["resets_at"].endswith("T00:00:00Z")
    assert by_kind["concurrent_calls"]["remaining"] == 4
    assert admin.json()["limits"] == []
    assert anonymous.status_code == 401


async def test_limits_are_an_empty_list_when_none_are_set(store_url: str | None, who: str) -> None:
    async with quota_gateway(store_url) as (client, _upstream, _app):
        answer = await client.get("/api/v1/limits", headers=bearer(who))
    assert answer.json() == {"object": "limits", "user": who, "limits": []}


async def test_the_gateway_recovers_by_itself_when_redis_returns(
    caplog: pytest.LogCaptureFixture, who: str
) -> None:
    forwarder = Forwarder("127.0.0.1", 6379)
    await forwarder.restore()
    limits = {"quota_rpm": 100, "redis_url": f"redis://127.0.0.1:{forwarder.port}/0"}
    with caplog.at_level(logging.WARNING, logger="app.quotas"):
        async with quota_gateway(None, **limits) as (client, _upstream, _app):
            before = await client.post(V1, json=body(V1), headers=bearer(who))
            await forwarder.cut()
            away = [await client.post(V1, json=body(V1), headers=bearer(who)) for _ in range(3)]
            await forwarder.restore()
            back = await client.post(V1, json=body(V1), headers=bearer(who))
        await forwarder.cut()
    assert before.status_code == 200
    assert [a.status_code for a in away] == [503] * 3
    assert back.status_code == 200
    assert back.headers["x-ratelimit-remaining"] == "98"  # the count survived the outage
    said = [r.getMessage() for r in caplog.records if r.name == "app.quotas"]
    assert len(said) == 2  # once per outage, not once per call
    assert said[0].startswith("quotas: limit store unreachable (")
    assert said[0].endswith("); refusing AI calls with 503")
    assert said[1] == "quotas: limit store reachable again"


@pytest.mark.parametrize(
    ("path", "extra", "code"),
    [
        (LEGACY, {"maxTokens": 100}, "AI_TOKEN_QUOTA"),
        (V1, {"max_tokens": 100, "stream": True}, "token_quota_exceeded"),
    ],
)
async def test_tokens_per_day_on_each_surface(
    path: str, extra: dict[str, Any], code: str, store_url: str | None, who: str
) -> None:
    # Reported use per call (tests/inprocess.py): 5 tokens JSON, 5 streamed. A day of 150 tokens
    # admits a worst case of about 110 once, and not again after the first call's 5 are settled
    # beside a second one held.
    async with quota_gateway(store_url, quota_tokens_per_day=150) as (client, upstream, app):
        first = await client.post(path, json=body(path, **extra), headers=bearer(who))
        await app.state.quotas.drain()  # Redis settles in a task of its own
        second = await client.post(path, json=body(path, **extra), headers=bearer(who))
    assert first.status_code == 200
    assert second.status_code == 200  # 5 settled + 110 held < 150
    assert upstream.chat == 2
    async with quota_gateway(store_url, quota_tokens_per_day=150) as (client, upstream, _app):
        # The same caller's day, in a new process on the same store (Redis) or a fresh one.
        big = {**extra, "maxTokens" if path == LEGACY else "max_tokens": 200}
        refused = await client.post(path, json=body(path, **big), headers=bearer(who))
    assert refused.status_code == 429
    error = refused.json()
    assert (error["error"] if path == LEGACY else error["error"]["code"]) == code
    assert upstream.chat == 0


@pytest.mark.parametrize("path", [LEGACY, V1])
async def test_spend_per_month_holds_a_stream_to_its_worst_case(
    path: str, store_url: str | None, who: str
) -> None:
    worst = 10 * PROMPT_PRICE + 100 * COMPLETION_PRICE
    bound: dict[str, Any] = {"maxTokens": 100} if path == LEGACY else {"max_tokens": 100}
    call = body(path, stream=True, **bound)
    async with quota_gateway(store_url, quota_usd_per_month=1.5 * worst) as (
        client,
        upstream,
        app,
    ):
        upstream_release = upstream.release  # the first stream is held open upstream
        held = asyncio.create_task(
            client.post(path, json={**call, "model": "hold"}, headers=bearer(who))
        )
        async with asyncio.timeout(5):
            await upstream.holding.wait()
        refused = await client.post(path, json=call, headers=bearer(who))
        upstream_release.set()
        assert (await held).status_code == 200
    assert refused.status_code == 429
    error = refused.json()
    got = error["error"] if path == LEGACY else error["error"]["code"]
    assert got == ("AI_SPEND_LIMIT" if path == LEGACY else "spend_limit_exceeded")
    assert "USD per month" in (error["message"] if path == LEGACY else error["error"]["message"])

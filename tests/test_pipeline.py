"""The pipeline's seams (app/pipeline.py): middleware added the ordinary way sees the AI routes,
FastAPI's dependency overrides reach them, admission hooks run before anything goes upstream,
and record hooks get exactly one outcome per call."""

import asyncio
from collections.abc import MutableMapping
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth import Principal, require_principal
from app.errors import GatewayError
from app.json_shape import Json
from app.main import create_app
from app.pipeline import Call, Outcome
from tests.factories import asgi_receive, asgi_scope, make_settings, make_token
from tests.inprocess import gateway

AUTH = {"Authorization": f"Bearer {make_token()}"}
HI = [{"role": "user", "content": "Hi"}]
AI_POSTS: dict[str, dict[str, Any]] = {
    "/api/ai/chat/completion": {"model": "m", "messages": HI},
    "/api/ai/image/generation": {"model": "m", "prompt": "a cat"},
    "/api/ai/embeddings": {"model": "m", "input": "Hi"},
    "/api/v1/chat/completions": {"model": "m", "messages": HI},
    "/api/v1/embeddings": {"model": "m", "input": "Hi"},
}


class SeenPaths:
    """A pure-ASGI middleware, as a metrics or quota layer would be added."""

    seen: list[str] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            SeenPaths.seen.append(f"{scope['method']} {scope['path']}")
        await self.app(scope, receive, send)


async def test_a_middleware_added_the_ordinary_way_sees_every_ai_post() -> None:
    SeenPaths.seen = []
    async with gateway(make_settings(), lambda app: app.add_middleware(SeenPaths)) as (
        client,
        upstream,
    ):
        for path, body in AI_POSTS.items():
            resp = await client.post(path, json=body, headers=AUTH)
            assert resp.status_code == 200, (path, resp.text)
        await client.get("/healthz")
    assert SeenPaths.seen == [f"POST {path}" for path in AI_POSTS] + ["GET /healthz"]
    assert len(upstream.bodies) == len(AI_POSTS)


async def test_dependency_overrides_substitute_the_principal_on_the_ai_routes() -> None:
    async def robot(_request: Any) -> Principal:
        return Principal(id="robot-7", role="authenticated", kind="user")

    def configure(app: FastAPI) -> None:
        app.dependency_overrides[require_principal] = robot

    async with gateway(make_settings(), configure) as (client, upstream):
        resp = await client.post(
            "/api/v1/chat/completions", json=AI_POSTS["/api/v1/chat/completions"]
        )
    assert resp.status_code == 200
    assert upstream.bodies[0]["user"] == "robot-7"


async def test_an_admission_hook_refuses_before_anything_goes_upstream() -> None:
    admitted: list[str] = []

    async def quota(call: Call, _body: Json) -> None:
        admitted.append(call.principal.id)
        raise GatewayError("Over quota", status_code=429, code="QUOTA_EXCEEDED")

    async with gateway(make_settings(), lambda app: app.state.pipeline.admission.append(quota)) as (
        client,
        upstream,
    ):
        legacy = await client.post(
            "/api/ai/chat/completion", json=AI_POSTS["/api/ai/chat/completion"], headers=AUTH
        )
        v1 = await client.post(
            "/api/v1/embeddings", json=AI_POSTS["/api/v1/embeddings"], headers=AUTH
        )
    assert (legacy.status_code, legacy.json()["error"]) == (429, "QUOTA_EXCEEDED")
    assert (v1.status_code, v1.json()["error"]["code"]) == (429, "QUOTA_EXCEEDED")
    assert admitted == ["user-1", "user-1"]
    assert upstream.bodies == []


async def test_every_call_is_recorded_once_with_its_outcome() -> None:
    outcomes: list[tuple[str, str, int]] = []

    def record(call: Call, outcome: Outcome) -> None:
        outcomes.append((call.route.path, outcome.kind, outcome.status))

    async with gateway(make_settings(), lambda app: app.state.pipeline.record.append(record)) as (
        client,
        _upstream,
    ):
        await client.post(
            "/api/v1/chat/completions", json=AI_POSTS["/api/v1/chat/completions"], headers=AUTH
        )
        stream = {**AI_POSTS["/api/v1/chat/completions"], "stream": True}
        await client.post("/api/v1/chat/completions", json=stream, headers=AUTH)
        legacy_stream = {**AI_POSTS["/api/ai/chat/completion"], "stream": True}
        await client.post("/api/ai/chat/completion", json=legacy_stream, headers=AUTH)
        await client.post("/api/v1/chat/completions", json={"model": "m"}, headers=AUTH)
        await client.post("/api/v1/chat/completions", json=AI_POSTS["/api/v1/chat/completions"])
    assert outcomes == [
        ("/api/v1/chat/completions", "ok", 200),
        ("/api/v1/chat/completions", "ok", 200),
        ("/api/ai/chat/completion", "ok", 200),
        ("/api/v1/chat/completions", "refused", 400),
    ]  # the unauthenticated call is no call: nobody to record it for


@pytest.mark.parametrize(
    ("answer", "kind", "status"),
    [
        (
            httpx.Response(400, json={"error": {"message": "bad", "code": 400}}),
            "upstream_error",
            400,
        ),
        (
            httpx.Response(
                200,
                content=b'data: {"error":{"message":"x","code":502}}\n\n',
                headers={"content-type": "text/event-stream"},
            ),
            "upstream_error",
            200,
        ),
        (
            httpx.Response(
                200,
                content=b'data: {"choices":[]}\n\n',
                headers={"content-type": "text/event-stream"},
            ),
            "stream_error",
            200,
        ),
    ],
)
async def test_failures_are_recorded_as_such(
    answer: httpx.Response, kind: str, status: int
) -> None:
    outcomes: list[Outcome] = []
    app = create_app(
        make_settings(upstream_max_retries=0), transport=httpx.MockTransport(lambda _r: answer)
    )
    app.state.pipeline.record.append(lambda _call, outcome: outcomes.append(outcome))
    stream = answer.headers.get("content-type") == "text/event-stream"
    body = {**AI_POSTS["/api/v1/chat/completions"], "stream": stream}
    async with app.router.lifespan_context(app) as state:
        await _call(app, state, "/api/v1/chat/completions", orjson.dumps(body))
    assert [(o.kind, o.status) for o in outcomes] == [(kind, status)]


async def test_a_caller_who_leaves_is_recorded_as_cancelled() -> None:
    async def slow(_request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={})

    outcomes: list[Outcome] = []
    app = create_app(make_settings(), transport=httpx.MockTransport(slow))
    app.state.pipeline.record.append(lambda _call, outcome: outcomes.append(outcome))
    body = orjson.dumps(AI_POSTS["/api/v1/chat/completions"])
    async with app.router.lifespan_context(app) as state:
        sent = await _call(app, state, "/api/v1/chat/completions", body, leave_after_s=0.1)
    assert [(o.kind, o.status) for o in outcomes] == [("cancelled", 499)]
    assert sent[0]["status"] == 499


async def _call(
    app: FastAPI, state: Any, path: str, body: bytes, leave_after_s: float | None = None
) -> list[MutableMapping[str, Any]]:
    """Call the app as a server would; the caller hangs up after `leave_after_s`, if given."""
    sent: list[MutableMapping[str, Any]] = []
    receive = asgi_receive(body, leave_after_s)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(asgi_scope("POST", path, state), receive, send), timeout=5)
    return sent


async def test_a_stream_does_not_keep_the_request_body() -> None:
    calls: list[Call] = []

    def record(call: Call, _outcome: Outcome) -> None:
        calls.append(call)

    body = {**AI_POSTS["/api/v1/chat/completions"], "stream": True}
    async with gateway(make_settings(), lambda app: app.state.pipeline.record.append(record)) as (
        client,
        _upstream,
    ):
        await client.post("/api/v1/chat/completions", json=body, headers=AUTH)
        await client.post("/api/ai/chat/completion", json={**body, "stream": True}, headers=AUTH)
    assert [call.body for call in calls] == [b"", b""]


async def test_the_record_stage_gets_what_the_upstream_reported() -> None:
    seen: list[tuple[Any, ...]] = []

    def record(call: Call, outcome: Outcome) -> None:
        u = call.usage
        seen.append(
            (
                outcome.kind,
                (call.requested_model, u.served_model, u.provider, u.generation_id),
                (u.prompt_tokens, u.completion_tokens, u.reasoning_tokens, u.cost_usd),
                call.request_id != "-" and call.usage.first_token_at is not None,
            )
        )

    chat = AI_POSTS["/api/v1/chat/completions"]
    async with gateway(make_settings(), lambda app: app.state.pipeline.record.append(record)) as (
        client,
        _upstream,
    ):
        await client.post("/api/v1/chat/completions", json=chat, headers=AUTH)
        await client.post("/api/ai/chat/completion", json={**chat, "stream": True}, headers=AUTH)
    assert seen == [
        ("ok", ("m", "m-served", "P", "gen-1"), (3, 2, None, 0.00042), False),
        ("ok", ("m", "m-served", "P", "gen-2"), (4, 1, 1, 0.0007), True),
    ]


async def test_a_legacy_stream_refused_after_validation_is_recorded_as_refused() -> None:
    outcomes: list[tuple[str, int]] = []

    def record(_call: Call, outcome: Outcome) -> None:
        outcomes.append((outcome.kind, outcome.status))

    settings = make_settings(allowed_models=["openai/*"])
    body = {**AI_POSTS["/api/ai/chat/completion"], "stream": True}
    async with gateway(settings, lambda app: app.state.pipeline.record.append(record)) as (
        client,
        upstream,
    ):
        resp = await client.post("/api/ai/chat/completion", json=body, headers=AUTH)
    assert resp.status_code == 200  # the legacy route answers this refusal as an SSE event
    assert b'"error":true' in resp.content
    assert outcomes == [("refused", 200)]
    assert upstream.bodies == []

"""The gateway in-process (its lifespan run, no socket), with an upstream that records what it
is sent and answers like OpenRouter: for route behaviour that needs no real wire."""

from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app

CHAT_ANSWER = {
    "id": "gen-1",
    "model": "m-served",
    "provider": "P",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "cost": 0.00042},
}
EMBEDDINGS_ANSWER = {"data": [{"embedding": [0.5], "index": 0}], "model": "m"}
STREAM_ANSWER = (
    b'data: {"id":"gen-2","model":"m-served","provider":"P","choices":[{"delta":{"content":"Hi"}}]}'
    b"\n\n"
    b'data: {"id":"gen-2","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":1,'
    b'"completion_tokens_details":{"reasoning_tokens":1},"cost":0.0007}}\n\n'
    b"data: [DONE]\n\n"
)


@dataclass
class Recorder:
    """What the upstream received: one parsed JSON body per request."""

    bodies: list[Any] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        self.bodies.append(body)
        if request.url.path.endswith("/embeddings"):
            return httpx.Response(200, json=EMBEDDINGS_ANSWER)
        if body.get("stream"):
            headers = {"content-type": "text/event-stream"}
            return httpx.Response(200, content=STREAM_ANSWER, headers=headers)
        return httpx.Response(200, json=CHAT_ANSWER)


@asynccontextmanager
async def asgi_client(app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """An httpx client on `app`, its lifespan run (and the lifespan's state, for tests that call
    the app themselves); the lifespan ends when the block does."""
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
            await app({**scope, "state": dict(state or {})}, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield client, state


@asynccontextmanager
async def gateway(
    settings: Settings, configure: Callable[[FastAPI], None] | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, Recorder]]:
    """The app on `settings`, its upstream a `Recorder`; `configure` may change the app first
    (middleware, dependency overrides, pipeline hooks)."""
    recorder = Recorder()
    app = create_app(settings, transport=httpx.MockTransport(recorder))
    if configure is not None:
        configure(app)
    async with asgi_client(app) as (client, _state):
        yield client, recorder

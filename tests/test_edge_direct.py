"""The edge calls the AI endpoints directly (app/edge.py), outside FastAPI's exception
layers: each endpoint must still answer every failure in its surface's envelope, and requests
the edge does not take must still reach the router."""

import asyncio
from collections.abc import MutableMapping
from typing import Any

import httpx
import orjson
import pytest

from app.main import create_app
from tests.factories import UPSTREAM_KEY, asgi_receive, asgi_scope, make_settings

CHAT = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "Hi"}]})


def exploding(_request: httpx.Request) -> httpx.Response:
    raise ValueError(f"boom {UPSTREAM_KEY}")  # not a transport error: a bug, as far as we know


async def call(
    method: str, path: str, handler: Any = exploding
) -> tuple[int, dict[bytes, bytes], bytes]:
    app = create_app(make_settings(), transport=httpx.MockTransport(handler))
    sent: list[MutableMapping[str, Any]] = []
    receive = asgi_receive(CHAT)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async with app.router.lifespan_context(app) as state:
        scope = asgi_scope(method, path, state)
        await asyncio.wait_for(app(scope, receive, send), timeout=5)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], dict(start["headers"]), body


async def test_unexpected_failure_is_a_bare_500_in_the_legacy_envelope() -> None:
    status, headers, body = await call("POST", "/api/ai/chat/completion")
    assert status == 500
    assert orjson.loads(body) == {
        "error": "INTERNAL_ERROR",
        "message": "Internal server error",
        "statusCode": 500,
    }
    assert b"boom" not in body
    assert UPSTREAM_KEY.encode() not in body
    assert b"x-request-id" in headers


async def test_unexpected_failure_is_a_bare_500_in_the_openai_envelope() -> None:
    status, _headers, body = await call("POST", "/api/v1/chat/completions")
    assert status == 500
    assert orjson.loads(body)["error"]["message"] == "Internal server error"
    assert b"boom" not in body
    assert UPSTREAM_KEY.encode() not in body


@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize("path", ["/api/ai/chat/completion", "/api/v1/chat/completions"])
async def test_other_methods_get_405_with_allow_in_the_paths_envelope(
    method: str, path: str
) -> None:
    status, headers, body = await call(method, path)
    assert status == 405
    assert headers[b"allow"] == b"POST"
    error = orjson.loads(body)
    if path.startswith("/api/v1/"):
        assert error["error"]["code"] == "METHOD_NOT_ALLOWED"
    else:
        assert error["error"] == "METHOD_NOT_ALLOWED"
        assert error["message"] == f"Method {method} is not allowed on {path}"


async def test_a_trailing_slash_still_reaches_the_router() -> None:
    status, headers, _body = await call("POST", "/api/ai/chat/completion/")
    assert status == 307
    assert headers[b"location"].endswith(b"/api/ai/chat/completion")

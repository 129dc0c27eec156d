"""What the AI routes share: registration, the upstream call with its error mapping, JSON answers.

The POST routes are plain endpoints (`ai_route`), not FastAPI's APIRoute: dependency solving
and FastAPI's per-route machinery were about a third of a request's CPU in the profile
(bench/README.md), and these handlers need exactly two things, the caller and the process's
resources, which `ai_route` hands them directly. Each endpoint renders its own failures in the
path's envelope, so it needs no exception layer around it: the edge (`app/middleware.py`) calls
the exact POSTs straight from `AI_ENDPOINTS`, and the same endpoints are also router routes
(`AI_ROUTES`) for everything else (slash redirects, other methods). They are left out of the
OpenAPI schema.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from app.auth import Principal, require_principal
from app.config import Settings
from app.deps import Gateway, gateway_of
from app.errors import (
    JSON_MEDIA_TYPE,
    GatewayError,
    InvalidInputError,
    error_response,
    unexpected_error_response,
)
from app.policy import PolicyError
from app.schemas.body import M, load_body, validate_body
from app.upstream import UpstreamClient, UpstreamFailure
from app.upstream_errors import to_legacy_error

Json = dict[str, Any]

log = logging.getLogger("app.calls")

# nginx's status for "the client closed the request": what the server's access log shows for a
# call whose caller left (nothing is sent to anyone).
CLIENT_CLOSED_REQUEST = 499
# How long a call runs before a watcher looks out for its caller leaving (see until_caller_leaves).
WATCH_AFTER_S = 0.05

Handler = Callable[[Request, bytes, Principal, Gateway], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]

# Filled as the route modules are imported. `create_app` puts the routes first in the app's
# routes (matched before FastAPI's included routers, which cost a walk each) and hands the
# endpoints to the edge.
AI_ROUTES: list[Route] = []
AI_ENDPOINTS: dict[str, Endpoint] = {}


def ai_route(path: str) -> Callable[[Handler], Handler]:
    """Register `handler(request, body, principal, gateway)` for POST `path`; it runs only
    while the caller is still there (`until_caller_leaves`)."""

    def register(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                principal = await require_principal(request)
                body = await read_body(request)
                call = handler(request, body, principal, gateway_of(request))
                return await until_caller_leaves(request, call, path)
            except GatewayError as err:
                return error_response(err, path)
            except ClientDisconnect:
                # Gone before the whole body arrived (or cut off by BODY_READ_TIMEOUT_S):
                # nothing went upstream, and there is no one to answer.
                log.info("caller left %s before sending the whole body", path)
                return Response(status_code=CLIENT_CLOSED_REQUEST)
            except Exception as err:  # the boundary: a bare 500, the type logged
                return unexpected_error_response(err, path)

        AI_ROUTES.append(Route(path, endpoint, methods=["POST"], name=handler.__name__))
        AI_ENDPOINTS[path] = endpoint
        return handler

    return register


async def read_body(request: Request) -> bytes:
    """The request body, not cached on `request`: Starlette keeps the request object alive for
    as long as its response runs, so a cached body (the whole prompt) would be held for the
    length of every stream."""
    return b"".join([chunk async for chunk in request.stream()])


async def until_caller_leaves(request: Request, call: Awaitable[Response], path: str) -> Response:
    """Run a handler (its upstream call included) and cancel it the moment the caller hangs up.

    The whole body has been read, so the next message the server has for us is the caller's
    disconnect. Cancelling the handler cancels its upstream request, which closes that
    connection: a JSON call or a stream still waiting for the upstream's headers is not run, and
    billed, to its end for nobody. A stream that has started has its own watcher (EventStream).
    The watcher task starts only once the call has run WATCH_AFTER_S: most calls end sooner
    and need none (a task per request was a tenth of a fast call's CPU), and a caller who left
    earlier is still noticed within that time.
    """
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    left = False
    watcher: asyncio.Task[None] | None = None

    async def watch() -> None:
        nonlocal left
        while (await request.receive())["type"] != "http.disconnect":
            pass
        left = True
        task.cancel()

    def start_watching() -> None:
        nonlocal watcher
        watcher = loop.create_task(watch())

    timer = loop.call_later(WATCH_AFTER_S, start_watching)
    try:
        return await call
    except asyncio.CancelledError:
        if not left:
            raise
        task.uncancel()
        # The outcome until the ledger records it: the caller left, the upstream call ended.
        log.info("caller left %s; upstream call cancelled", path)
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    finally:
        timer.cancel()
        if watcher is not None:
            watcher.cancel()


def read_legacy(
    request: Request,
    raw: bytes,
    model: type[M],
    settings: Settings,
    precheck: Callable[[Any], None] | None = None,
) -> M:
    """Parse, bound and validate a legacy body; `precheck` sees the parsed body first, so a
    count limit refuses a huge array before pydantic validates (and reports on) every item."""
    body = load_body(
        raw,
        request.headers.get("content-type"),
        max_depth=settings.max_json_depth,
        max_items=settings.max_json_items,
    )
    if precheck is not None:
        precheck(body)
    return validate_body(model, body, {"max_completion_tokens": settings.max_completion_tokens})


async def call_upstream(
    upstream: UpstreamClient, path: str, body: Json, *, timeout_s: float | None = None
) -> tuple[Json, dict[str, str]]:
    """POST upstream; failures leave as the legacy error. Returns the answer and headers to pass."""
    try:
        answer, headers = await upstream.send_json(path, body, timeout_s=timeout_s)
    except UpstreamFailure as failure:
        secret = upstream.settings.openrouter_api_key.get_secret_value()
        raise to_legacy_error(failure, secret) from failure
    return answer, generation_header(headers)


def generation_header(upstream_headers: Mapping[str, str]) -> dict[str, str]:
    """OpenRouter's `X-Generation-Id`, passed on to the caller when the upstream sent one."""
    generation = upstream_headers.get("x-generation-id")
    return {"X-Generation-Id": generation} if generation else {}


def json_response(obj: object, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(obj), media_type=JSON_MEDIA_TYPE, headers=headers)


def legacy_refusal(err: PolicyError) -> GatewayError:
    """A policy refusal in the legacy envelope; a refused model reads as [IF-legacy] did (§9)."""
    if err.rule == "model":
        return GatewayError(err.message, status_code=400, code="AI_INVALID_MODEL")
    return InvalidInputError(err.message, next_actions=err.next_actions)

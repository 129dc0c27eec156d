"""The edge every HTTP request crosses first: path normalisation, request id, body limit, and
the direct call of the AI endpoints.

Pure ASGI (not BaseHTTPMiddleware) so contextvars survive and streams pass untouched. The jobs
share one layer on purpose: each ASGI layer costs CPU on every request and, through its send
wrapper, on every streamed write (bench/README.md). It sits outside FastAPI's own layers (see
`GatewayApp` in app/main.py), and an exact `POST` to an AI endpoint goes from here straight to
its pipeline endpoint (`app/pipeline.py`), which renders its own errors: the six layers between
(server errors, telemetry, body limit, exception handlers, exit stack, router) each kept a
coroutine frame and closures alive for the length of every stream and cost CPU on every request.
Everything else takes the full stack. Middleware added with `app.add_middleware` sits between
the edge and the dispatch (`AiDispatch`), so it sees every request.
"""

import itertools
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.access import Access, access_var
from app.cors import refused_preflight
from app.errors import PayloadTooLargeError, error_body

# A random per-process prefix plus a counter: unique across replicas, and far cheaper than uuid4.
_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count(1)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SLASHES = re.compile(r"/{2,}")


def normalize_path(path: str) -> str:
    """Serve `/api/...` whatever the SDK glued in front of it.

    The legacy SDK builds stream URLs by string concatenation, so a base URL with a trailing
    slash or a path prefix sends `//api/ai/...` or `/prefix/api/ai/...` (both pinned by
    tests/routers/test_chat.py).
    """
    fixed = _SLASHES.sub("/", path) if "//" in path else path
    start = fixed.find("/api/")
    return fixed[start:] if start > 0 else fixed


Endpoint = Callable[[Request], Awaitable[Response]]


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        direct: Mapping[str, Endpoint] | None = None,
        on_end: Callable[[Access], None] | None = None,
        refuse_preflights: bool = False,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.direct = dict(direct or {})
        self.refuse_preflights = refuse_preflights
        # Told of every request once its response has ended (logs and metrics, app/main.py).
        self.on_end = on_end

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"Request body exceeds the limit of {self.max_bytes} bytes.",
            next_actions="Send a smaller request, or raise MAX_REQUEST_BYTES on the gateway.",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = normalize_path(scope["path"])
        if path != scope["path"]:
            scope = {**scope, "path": path, "raw_path": path.encode()}
        given = declared = origin = None
        preflight = False
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                given = value.decode("latin-1")
            elif key == b"content-length":
                declared = value.decode("latin-1")
            elif key == b"origin":
                origin = value.decode("latin-1")
            elif key == b"access-control-request-method":
                preflight = True
        request_id = (
            given if given and _SAFE_ID.match(given) else f"{_ID_PREFIX}{next(_ID_COUNTER):x}"
        )
        id_header = (b"x-request-id", request_id.encode())
        peer = scope.get("client")
        access = Access(request_id, scope["method"], path, peer[0] if peer else None)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), id_header]
                access.status = message["status"]
            await send(message)

        token = access_var.set(access)
        try:
            if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
                await self._refuse(declared, path, send_with_id)
                return
            if preflight and origin is not None and self.refuse_preflights:
                if scope["method"] == "OPTIONS":
                    await refused_preflight(origin, path)(scope, receive, send_with_id)
                    return
            receive = self._counted(receive)
            endpoint = self.direct.get(path) if scope["method"] == "POST" else None
            if endpoint is None:
                await self.app(scope, receive, send_with_id)
                return
            # Inline rather than a shared helper: a held stream keeps every frame on this path.
            response = await endpoint(Request(scope, receive, send_with_id))
            await response(scope, receive, send_with_id)
        finally:
            if self.on_end is not None:
                access.ended = time.monotonic()
                if access.route is None:
                    route = scope.get("route")  # the router's match (FastAPI sets it)
                    access.route = getattr(route, "path", None)
                self.on_end(access)
            access_var.reset(token)

    async def _refuse(self, declared: str, path: str, send: Send) -> None:
        """Answer at once: a declared length over the limit is refused before any byte is read."""
        err = (
            self._too_large()
            if declared.isdigit()
            else PayloadTooLargeError("Invalid Content-Length header.", status_code=400)
        )
        body = error_body(err, path)
        headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": err.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _counted(self, receive: Receive) -> Receive:
        """A chunked body is counted as it arrives; the read fails past the limit, and the
        route's error handler renders that."""
        seen = 0

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._too_large()
            return message

        return counted_receive


class AiDispatch:
    """The AI routes' direct dispatch, as its own layer: used, inside the middleware added with
    `app.add_middleware`, when there is any (without, the edge dispatches itself, one layer and
    one held frame per stream fewer)."""

    def __init__(self, app: ASGIApp, endpoints: Mapping[str, Endpoint]) -> None:
        self.app = app
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.endpoints.get(scope["path"])
            if endpoint is not None:
                response = await endpoint(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

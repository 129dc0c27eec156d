"""Pure-ASGI middleware: request id, path normalisation and the request-body limit.

Pure ASGI (not BaseHTTPMiddleware) so contextvars survive and streams pass untouched.
"""

import contextvars
import itertools
import os
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLargeError, error_body

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# A random per-process prefix plus a counter: unique across replicas, and far cheaper than uuid4.
_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count(1)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SLASHES = re.compile(r"/{2,}")


class RequestIdMiddleware:
    """Echo a sane inbound X-Request-Id or mint one, and expose it to logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = (
            given if given and _SAFE_ID.match(given) else f"{_ID_PREFIX}{next(_ID_COUNTER):x}"
        )
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class PathNormalizeMiddleware:
    """Serve `/api/...` whatever the SDK glued in front of it.

    The legacy SDK builds stream URLs by string concatenation, so a base URL with a trailing
    slash or a path prefix sends `//api/ai/...` or `/prefix/api/ai/...` (legacy contract §10).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            fixed = _SLASHES.sub("/", path)
            start = fixed.find("/api/")
            if start > 0:
                fixed = fixed[start:]
            if fixed != path:
                scope = {**scope, "path": fixed, "raw_path": fixed.encode()}
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse bodies over `max_bytes` before they are read whole.

    A declared Content-Length over the limit is answered at once; a chunked body is counted
    as it arrives and the read fails with PayloadTooLargeError, which the route's handler renders.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _error(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"Request body exceeds the limit of {self.max_bytes} bytes.",
            next_actions="Send a smaller request, or raise MAX_REQUEST_BYTES on the gateway.",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            err = (
                self._error()
                if declared.isdigit()
                else PayloadTooLargeError("Invalid Content-Length header.", status_code=400)
            )
            body = error_body(err, scope["path"])
            await send(
                {
                    "type": "http.response.start",
                    "status": err.status_code,
                    "headers": [
                        (b"content-type", b"application/json; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        seen = 0

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._error()
            return message

        await self.app(scope, counted_receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None

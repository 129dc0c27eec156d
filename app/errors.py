"""One error class that carries its status, and the legacy envelope it renders to.

Every failure the gateway reports is a `GatewayError` (or a subclass fixing status and code);
the handlers below turn it into the legacy body `{"error","message","statusCode","nextActions"?}`
with that exact key order, because the InsForge SDK copies those keys onto its error object.
"""

from collections.abc import Mapping

import orjson
from starlette.requests import Request
from starlette.responses import Response

JSON_MEDIA_TYPE = "application/json; charset=utf-8"


class GatewayError(Exception):
    status_code: int = 500
    code: str = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        next_actions: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code
        self.next_actions = next_actions
        self.headers = dict(headers or {})


class InvalidInputError(GatewayError):
    status_code = 400
    code = "INVALID_INPUT"


class PayloadTooLargeError(GatewayError):
    status_code = 413
    code = "INVALID_INPUT"


class AuthError(GatewayError):
    status_code = 401
    code = "AUTH_UNAUTHORIZED"


class ForbiddenError(GatewayError):
    status_code = 403
    code = "FORBIDDEN"


class UpstreamError(GatewayError):
    """A failure of OpenRouter (or the path to it), already mapped to the legacy status and body."""

    status_code = 502
    code = "AI_UPSTREAM_UNAVAILABLE"


def legacy_body(err: GatewayError) -> bytes:
    body: dict[str, object] = {
        "error": err.code,
        "message": err.message,
        "statusCode": err.status_code,
    }
    if err.next_actions is not None:
        body["nextActions"] = err.next_actions
    return orjson.dumps(body)


def legacy_response(err: GatewayError) -> Response:
    headers = err.headers
    if err.status_code == 401:
        # RFC 6750: a Bearer-protected resource names its scheme on every 401.
        headers = {"WWW-Authenticate": "Bearer", **headers}
    return Response(
        legacy_body(err), status_code=err.status_code, media_type=JSON_MEDIA_TYPE, headers=headers
    )


async def handle_gateway_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return legacy_response(exc)

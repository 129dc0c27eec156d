"""One error class that carries its status, and the two envelopes it renders to.

Every failure the gateway reports is a `GatewayError` (or a subclass fixing status and code).
On `/api/ai/*` (and anything that is not `/api/v1/*`) it renders as the legacy body
`{"error","message","statusCode","nextActions"?}` in that key order, because the InsForge SDK
copies those keys onto its error object; on `/api/v1/*` as OpenAI's
`{"error":{"message","type","code"}}`, which the `openai` SDKs parse into typed exceptions.
"""

import logging
from collections.abc import Mapping

import orjson
from starlette.requests import Request
from starlette.responses import Response

JSON_MEDIA_TYPE = "application/json; charset=utf-8"

log = logging.getLogger("app")


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


OPENAI_PREFIX = "/api/v1/"
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_body(err: GatewayError) -> bytes:
    kind = _OPENAI_TYPES.get(err.status_code)
    if kind is None:
        kind = "api_error" if err.status_code >= 500 else "invalid_request_error"
    error = {"message": err.message, "type": kind, "code": err.code}
    return orjson.dumps({"error": error})


def is_openai_path(path: str) -> bool:
    return path.startswith(OPENAI_PREFIX)


def error_body(err: GatewayError, path: str) -> bytes:
    return openai_body(err) if is_openai_path(path) else legacy_body(err)


def error_response(err: GatewayError, path: str = "") -> Response:
    headers = err.headers
    if err.status_code == 401:
        # RFC 6750: a Bearer-protected resource names its scheme on every 401.
        headers = {"WWW-Authenticate": "Bearer", **headers}
    return Response(
        error_body(err, path),
        status_code=err.status_code,
        media_type=JSON_MEDIA_TYPE,
        headers=headers,
    )


def unexpected_error_response(exc: Exception, path: str) -> Response:
    """A failure nothing anticipated: its type goes to the server log only (never its message,
    which may quote a prompt), the caller gets a bare 500 in the path's envelope."""
    log.error("unhandled error: %s", type(exc).__name__)
    return error_response(GatewayError("Internal server error"), path)


async def handle_gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return error_response(exc, request.url.path)

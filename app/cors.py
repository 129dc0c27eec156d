"""CORS that explains itself (issue 15, item 3).

A browser's preflight from an origin the gateway does not allow used to get "404 Endpoint not
found" (CORS_ORIGINS unset: nothing answered OPTIONS) or Starlette's bare "Disallowed CORS
origin". The developer, looking at the network tab, learnt nothing about what to change. Now
both get a 403 in the path's error envelope that names the origin and CORS_ORIGINS, and the
operator gets one warning per origin (at most MAX_LOGGED_ORIGINS of them: an origin is
whatever a caller sends).

`CORS_ORIGINS=*` answers every origin without credentials (the safe meaning of a wildcard; the
gateway uses no cookies), which the README says.
"""

import logging

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.errors import GatewayError, error_response

log = logging.getLogger("app.cors")

MAX_LOGGED_ORIGINS = 100
_logged: set[str] = set()


def refused_preflight(origin: str, path: str) -> Response:
    """The answer to a preflight from an origin this gateway does not allow."""
    shown = origin[:200]
    if shown not in _logged and len(_logged) < MAX_LOGGED_ORIGINS:
        _logged.add(shown)
        log.warning(
            "refused a CORS preflight from %s: add it to CORS_ORIGINS to let its pages call "
            "the gateway",
            shown,
        )
    err = GatewayError(
        f"This gateway does not accept calls from pages at {shown}: the operator can add that "
        "origin to CORS_ORIGINS.",
        status_code=403,
        code="CORS_ORIGIN_NOT_ALLOWED",
        next_actions=f"Add the origin to CORS_ORIGINS on the gateway (CORS_ORIGINS={shown}; "
        "several are separated by commas).",
    )
    return error_response(err, path)


class ExplainedCors(CORSMiddleware):
    """Starlette's CORS, but a preflight from an origin it does not allow gets
    `refused_preflight` (in the envelope of the path it asks about)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            requested = headers.get("access-control-request-method")
            if origin is not None and requested is not None and not self.is_allowed_origin(origin):
                await refused_preflight(origin, scope["path"])(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

"""Who is calling: one dependency that turns the request's credential into a typed Principal.

Dispatch follows the InsForge backend (tests/test_auth.py pins it) by the credential's
shape, never by falling back after a failure: `ik_…` bearer or any `x-api-key` → admin API
key; `anon_…` bearer → anon key; anything else → an HS256 JWT. One improvement on the legacy
backend: an `x-api-key` holding the anon key beside a bearer credential is left aside, and the
bearer decides (the legacy backend answered 401 `AUTH_INVALID_API_KEY`; the Python SDK sends
both). Algorithms are pinned to HS256,
so `alg:none`, HS384/512 and an RS256 header are refused. One deliberate change from the legacy
API: anonymous callers are refused on AI routes unless AI_ALLOW_ANON is set, because the anon
key ships in browser bundles.
"""

import hmac
import logging
import math
import time
from collections import OrderedDict
from typing import Annotated, Any, Literal

from fastapi import Depends
from jose import jwt
from jose.exceptions import ExpiredSignatureError, JOSEError
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request

from app.config import Settings
from app.deps import gateway_of
from app.errors import AuthError, ForbiddenError

log = logging.getLogger("app.auth")

CHECK_TOKEN = "Check the token is valid or login to get a new token."
CHECK_API_KEY = "Check the API key is valid or generate a new API key."
ALGORITHMS = ["HS256"]

Kind = Literal["user", "anon", "admin"]
# RFC 7519 NumericDates: JSON numbers. python-jose runs `int()` on them, which takes "123", and
# raises OverflowError (not ValueError) on the ±inf that 1e400 parses to.
TIME_CLAIMS = ("exp", "nbf", "iat")


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    role: str
    kind: Kind
    email: str | None = None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None or not header.startswith("Bearer "):
        return None
    return header[7:]


def _same(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


# Verified tokens, so a session's later requests skip the HMAC and JSON work (a large share of
# a request's CPU). Keyed by secret and token; an entry is used only while its `exp` holds.
VERIFIED_CACHE_SIZE = 10_000
_verified: OrderedDict[tuple[str, str], tuple[Principal, float]] = OrderedDict()


def verify_token(token: str, settings: Settings) -> Principal:
    """Decode an InsForge session JWT (HS256, `exp` enforced when present, `sub` required)."""
    key = (settings.jwt_secret.get_secret_value(), token)
    hit = _verified.get(key)
    if hit is not None and time.time() < hit[1]:
        _verified.move_to_end(key)
        return hit[0]
    principal, expires = _decode(token, settings)
    if expires is not None:
        _verified[key] = (principal, expires)
        if len(_verified) > VERIFIED_CACHE_SIZE:
            _verified.popitem(last=False)
    return principal


def _decode(token: str, settings: Settings) -> tuple[Principal, float | None]:
    """The principal, and until when it may be cached (None: do not cache)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=ALGORITHMS,
            options={"verify_aud": False, "verify_iss": False},
        )
    except (JOSEError, ValueError, TypeError, OverflowError) as err:
        raise _refused(_reason(err), "Invalid token") from err
    times = {name: _numeric_date(claims[name]) for name in TIME_CLAIMS if name in claims}
    if None in times.values():
        raise _refused("a time claim is not a number", "Invalid token")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise _refused("missing sub", "Invalid token subject")
    role = claims.get("role") or "authenticated"
    if not isinstance(role, str):
        raise _refused("role is not a string", "Invalid token")
    email = claims.get("email")
    kind: Kind = "admin" if role == "project_admin" else "anon" if role == "anon" else "user"
    principal = Principal(
        id=sub, role=role, kind=kind, email=email if isinstance(email, str) else None
    )
    exp = times.get("exp")
    if exp is not None and time.time() >= exp:
        # python-jose compares whole seconds; RFC 7519 refuses a token from its `exp` on.
        raise _refused("expired", "Invalid token")
    if "nbf" in times:
        return principal, None  # valid only from some moment on: not worth caching
    return principal, float("inf") if exp is None else exp


def _reason(err: Exception) -> str:
    """Why python-jose refused a token, in words an operator can act on (never the token)."""
    text = str(err)
    if isinstance(err, ExpiredSignatureError):
        return "expired"
    if "Signature verification failed" in text:
        return "bad signature (is JWT_SECRET the backend's?)"
    if "alg value is not allowed" in text:
        return "wrong algorithm (HS256 expected)"
    return f"malformed ({type(err).__name__})"


def _refused(reason: str, message: str) -> AuthError:
    """The 401 for a token, its reason logged at info: a JWT_SECRET mismatch is diagnosed from
    the log, and the caller learns no more than the legacy backend told it."""
    log.info("token refused: %s", reason)
    return AuthError(message)


def _numeric_date(value: object) -> float | None:
    """The claim as a finite float, or None when it is not a JSON number that fits one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an integer literal beyond float's range
        return None
    return seconds if math.isfinite(seconds) else None


def _api_key(request: Request, bearer: str | None, settings: Settings) -> str | None:
    """`Bearer ik_…`, else any `x-api-key` header (the legacy `extractApiKey`), except the
    public anon key beside a bearer credential: the Python SDK sends its project key in
    `x-api-key` on every call, and the user's token beside it, so the token decides."""
    if bearer is not None and bearer.startswith("ik_"):
        return bearer
    key = request.headers.get("x-api-key")
    if key is not None and bearer is not None and _same(key, settings.anon_key_value):
        return None
    return key


def authenticate(request: Request, settings: Settings) -> Principal:
    bearer = _bearer(request)
    api_key = _api_key(request, bearer, settings)
    if api_key is not None:
        if not _same(api_key, settings.api_key_value):
            log.info("API key refused: not the gateway's admin key")
            raise AuthError(
                "Invalid API key", code="AUTH_INVALID_API_KEY", next_actions=CHECK_API_KEY
            )
        return Principal(id="api-key", role="project_admin", kind="admin")
    if bearer is not None and bearer.startswith("anon_"):
        if not _same(bearer, settings.anon_key_value):
            raise AuthError(
                "Invalid anon key", code="AUTH_INVALID_CREDENTIALS", next_actions=CHECK_TOKEN
            )
        return Principal(id="anonymous", role="anon", kind="anon")
    if bearer is None:
        raise AuthError(
            "No token provided", code="AUTH_INVALID_CREDENTIALS", next_actions=CHECK_TOKEN
        )
    return verify_token(bearer, settings)


async def require_principal(request: Request) -> Principal:
    """Any caller the AI routes accept; anonymous ones only when the operator allows it.

    `async` so FastAPI runs it on the event loop, not in a worker thread (a costly hop).
    """
    settings = gateway_of(request).settings
    principal = authenticate(request, settings)
    if principal.kind == "anon" and not settings.ai_allow_anon:
        raise ForbiddenError(
            "Anonymous access to AI routes is disabled on this gateway. "
            "Set AI_ALLOW_ANON=true to enable it.",
            next_actions="Sign in and call with the user's access token, "
            "or ask the operator to set AI_ALLOW_ANON=true.",
        )
    return principal


async def require_admin(request: Request) -> Principal:
    """The admin API key or a `project_admin` JWT, answered as the legacy `verifyAdmin` did."""
    settings = gateway_of(request).settings
    bearer = _bearer(request)
    if _api_key(request, bearer, settings) is None:
        if bearer is None:
            raise AuthError(
                "No admin token provided", code="AUTH_INVALID_CREDENTIALS", next_actions=CHECK_TOKEN
            )
        # verifyAdmin treats anything else, an anon key included, as a JWT.
        principal = verify_token(bearer, settings)
    else:
        principal = authenticate(request, settings)
    if principal.kind != "admin":
        raise ForbiddenError(
            "Admin access required",
            code="AUTH_UNAUTHORIZED",
            next_actions="Check the admin token is valid or login as admin to get a new token.",
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(require_principal)]
AdminDep = Annotated[Principal, Depends(require_admin)]

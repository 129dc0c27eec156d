"""A session JWT checked and read: python-jose's decode with the family's key, then the claims
as a typed Principal, and the one 401 for every refused token.

Both families read claims the legacy way (contract §3): `sub` required and non-empty, `role`
defaulting to `authenticated`, `email` optional, time claims JSON numbers (python-jose runs
`int()` on them, which takes "123" and overflows on the ±inf that 1e400 parses to). Key-pair
tokens (the InsForge key pair, a JWKS key) must also carry `exp`: only the legacy HS256 anon
token was ever issued without one. `iss` and `aud` are checked for JWKS tokens only, when
JWT_ISSUER / JWT_AUDIENCE are set, and only they get JWT_LEEWAY_S of clock skew.
"""

import logging
import math
import time
from collections.abc import Mapping
from typing import Any, Literal

from jose import jwt
from jose.backends.base import Key
from jose.exceptions import ExpiredSignatureError, JOSEError
from pydantic import BaseModel, ConfigDict

from app.errors import AuthError

log = logging.getLogger("app.auth")

Kind = Literal["user", "anon", "admin"]
TIME_CLAIMS = ("exp", "nbf", "iat")
INVALID_TOKEN = "Invalid token"


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    role: str
    kind: Kind
    email: str | None = None


def decode(
    token: str,
    key: str | Key,
    algorithm: str,
    *,
    bad_signature: str,
    leeway_s: float = 0.0,
    issuer: str | None = None,
    audience: str | None = None,
) -> dict[str, Any]:
    """The verified claims; `bad_signature` is the logged reason when the signature fails."""
    options: Mapping[str, Any] = {
        "verify_aud": audience is not None,
        "require_aud": audience is not None,
        "verify_iss": issuer is not None,
        "require_iss": issuer is not None,
        "leeway": leeway_s,
    }
    try:
        return jwt.decode(
            token, key, algorithms=[algorithm], options=options, issuer=issuer, audience=audience
        )
    except (JOSEError, ValueError, TypeError, OverflowError) as err:
        raise refused(_reason(err, bad_signature)) from err


def principal_of(
    claims: dict[str, Any], *, exp_required: bool, leeway_s: float = 0.0
) -> tuple[Principal, float | None]:
    """The principal, and until when it may be cached (None: do not cache)."""
    times = {name: _numeric_date(claims[name]) for name in TIME_CLAIMS if name in claims}
    if None in times.values():
        raise refused("a time claim is not a number")
    if exp_required and "exp" not in times:
        raise refused("missing exp (key-pair tokens must expire)")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise refused("missing sub", "Invalid token subject")
    role = claims.get("role") or "authenticated"
    if not isinstance(role, str):
        raise refused("role is not a string")
    email = claims.get("email")
    kind: Kind = "admin" if role == "project_admin" else "anon" if role == "anon" else "user"
    principal = Principal(
        id=sub, role=role, kind=kind, email=email if isinstance(email, str) else None
    )
    exp = times.get("exp")
    if exp is not None and time.time() >= exp + leeway_s:
        # python-jose compares whole seconds; RFC 7519 refuses a token from its `exp` on.
        raise refused("expired")
    if "nbf" in times:
        return principal, None  # valid only from some moment on: not worth caching
    # Cached until `exp` itself, never into the leeway: a re-check there still accepts it.
    return principal, math.inf if exp is None else exp


def refused(reason: str, message: str = INVALID_TOKEN) -> AuthError:
    """The 401 for a token, its reason logged at info: a JWT_SECRET mismatch is diagnosed from
    the log, and the caller learns no more than the legacy backend told it."""
    log.info("token refused: %s", reason)
    return AuthError(message)


def _reason(err: Exception, bad_signature: str) -> str:
    """Why python-jose refused a token, in words an operator can act on (never the token)."""
    text = str(err)
    if isinstance(err, ExpiredSignatureError):
        return "expired"
    if "Signature verification failed" in text:
        return bad_signature
    if "alg value is not allowed" in text:
        return "wrong algorithm (HS256 expected)"
    if "Invalid audience" in text or '"aud"' in text:
        return "wrong or missing aud (JWT_AUDIENCE)"
    if "Invalid issuer" in text or '"iss"' in text:
        return "wrong or missing iss (JWT_ISSUER)"
    return f"malformed ({type(err).__name__})"


def _numeric_date(value: object) -> float | None:
    """The claim as a finite float, or None when it is not a JSON number that fits one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an integer literal beyond float's range
        return None
    return seconds if math.isfinite(seconds) else None

"""Who is calling: one dependency that turns the request's credential into a typed Principal.

Dispatch follows the InsForge backend (tests/test_auth.py pins it) by the credential's
shape, never by falling back after a failure: `ik_…` bearer or any `x-api-key` → admin API
key; `anon_…` bearer → anon key; anything else → a JWT. One improvement on the legacy
backend: an `x-api-key` holding the anon key beside a bearer credential is left aside, and the
bearer decides (the legacy backend answered 401 `AUTH_INVALID_API_KEY`; the Python SDK sends
both). One deliberate change from the legacy API: anonymous callers are refused on AI routes
unless AI_ALLOW_ANON is set, because the anon key ships in browser bundles.

A JWT is verified by one key family, chosen from its header as the backend chooses (contract
§3), and each family pins its algorithm, so no key ever verifies the other family's tokens:
- `alg: RS256` with `kid` = JWT_KEY_ID → the InsForge key pair (JWT_PUBLIC_KEY, app/keypair.py);
- else, with JWT_JWKS_URL set, `alg` RS256 or ES256 → the JWKS key of its `kid` (app/jwks.py);
- everything else → HS256 with JWT_SECRET, so `none`, HS384/512, and RS256 or ES256 headers
  that no key-pair verifier takes are refused. An unset JWT_SECRET (allowed beside a key-pair
  verifier) refuses every HS256 token rather than verify with an empty key.
Verified tokens are cached until their `exp` (the HS256 entry is looked up first, as before:
its hot path costs nothing more). Only a JWKS token whose key is not held needs an await: the
verifier raises `FetchNeeded`, and the async dependencies fetch once and verify again.
"""

import hmac
import logging
import time
from collections import OrderedDict
from typing import Annotated

from fastapi import Depends
from jose import jwt
from jose.exceptions import JOSEError
from starlette.requests import Request

from app.claims import Principal as Principal  # routes and hooks import it from here
from app.claims import decode, principal_of, refused
from app.config import Settings
from app.deps import gateway_of
from app.errors import AuthError, ForbiddenError
from app.jwks import ALGORITHMS as JWKS_ALGORITHMS
from app.jwks import FetchNeeded, JwksKeys
from app.keypair import key_pair

log = logging.getLogger("app.auth")

CHECK_TOKEN = "Check the token is valid or login to get a new token."
CHECK_API_KEY = "Check the API key is valid or generate a new API key."
BAD_HS256_SIGNATURE = "bad signature (is JWT_SECRET the backend's?)"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None or not header.startswith("Bearer "):
        return None
    return header[7:]


def _same(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


# Verified tokens, so a session's later requests skip the signature and JSON work (a large
# share of a request's CPU). Keyed by scope and token: the scope is JWT_SECRET for HS256
# tokens, the key pair's or the JWKS's own for the others (never mistaken for a secret), so
# a gateway configured otherwise never takes another's entry. Used only while `exp` holds.
VERIFIED_CACHE_SIZE = 10_000
_verified: OrderedDict[tuple[str, str], tuple[Principal, float]] = OrderedDict()


def verify_token(
    token: str, settings: Settings, jwks: JwksKeys | None = None, *, may_fetch: bool = True
) -> Principal:
    """Verify a session JWT of either family (module docstring). `jwks` is the app's JWKS
    keys when JWT_JWKS_URL is set; `may_fetch=False` once a fetch has been awaited."""
    secret = settings.jwt_secret.get_secret_value()
    key = (secret, token)
    hit = _verified.get(key)
    if hit is not None and time.time() < hit[1]:
        _verified.move_to_end(key)
        return hit[0]
    if settings.jwt_public_key is None and jwks is None:
        return _remember(secret, token, _hs256(token, secret))
    return _verify_keyed(token, settings, jwks, may_fetch)


def _verify_keyed(
    token: str, settings: Settings, jwks: JwksKeys | None, may_fetch: bool
) -> Principal:
    """Verification beside a key-pair verifier: the family's cache entry, else its key."""
    pair = None
    if settings.jwt_public_key is not None and settings.jwt_key_id is not None:
        pair = key_pair(settings.jwt_public_key, settings.jwt_key_id)
    for scope in (pair.scope if pair else "", jwks.scope if jwks else ""):
        hit = _verified.get((scope, token)) if scope else None
        if hit is not None and time.time() < hit[1]:
            _verified.move_to_end((scope, token))
            return hit[0]
    try:
        header = jwt.get_unverified_header(token)
    except JOSEError as err:
        raise refused(f"malformed ({type(err).__name__})") from err
    alg, kid = header.get("alg"), header.get("kid")
    if pair is not None and alg == "RS256" and kid == pair.kid:
        claims = decode(
            token,
            pair.key,
            "RS256",
            bad_signature="bad signature (is JWT_PUBLIC_KEY the backend's?)",
        )
        return _remember(pair.scope, token, principal_of(claims, exp_required=True))
    if jwks is not None and alg in JWKS_ALGORITHMS:
        if not isinstance(kid, str) or not kid:
            raise refused("no kid (a JWKS token needs one)")
        found = jwks.key(kid, may_fetch=may_fetch)
        if found is None:
            raise refused("unknown kid (not in the JWKS)")
        if found.algorithm != alg:
            raise refused(f"wrong algorithm (the JWKS key of this kid is {found.algorithm})")
        leeway = settings.jwt_leeway_s
        claims = decode(
            token,
            found.key,
            found.algorithm,
            bad_signature="bad signature (against the JWKS key of its kid)",
            leeway_s=leeway,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        return _remember(
            jwks.scope, token, principal_of(claims, exp_required=True, leeway_s=leeway)
        )
    if pair is not None and alg == "RS256":
        raise refused("unknown kid (InsForge RS256 tokens carry kid JWT_KEY_ID)")
    secret = settings.jwt_secret.get_secret_value()
    return _remember(secret, token, _hs256(token, secret))


def _hs256(token: str, secret: str) -> tuple[Principal, float | None]:
    """An InsForge HS256 session JWT (`exp` enforced when present, `sub` required)."""
    if not secret:
        raise refused("an HS256 token, and JWT_SECRET is unset")
    claims = decode(token, secret, "HS256", bad_signature=BAD_HS256_SIGNATURE)
    return principal_of(claims, exp_required=False)


def _remember(scope: str, token: str, verified: tuple[Principal, float | None]) -> Principal:
    principal, expires = verified
    if expires is not None:
        _verified[(scope, token)] = (principal, expires)
        if len(_verified) > VERIFIED_CACHE_SIZE:
            _verified.popitem(last=False)
    return principal


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


def authenticate(request: Request, settings: Settings, *, may_fetch: bool = True) -> Principal:
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
    return verify_token(bearer, settings, _jwks(request, settings), may_fetch=may_fetch)


def _jwks(request: Request, settings: Settings) -> JwksKeys | None:
    return gateway_of(request).jwks if settings.jwt_jwks_url is not None else None


async def require_principal(request: Request) -> Principal:
    """Any caller the AI routes accept; anonymous ones only when the operator allows it.

    `async` so FastAPI runs it on the event loop, not in a worker thread (a costly hop).
    """
    settings = gateway_of(request).settings
    try:
        principal = authenticate(request, settings)
    except FetchNeeded as need:  # a JWKS token whose key is not held: fetch once, then decide
        await need.refresh()
        principal = authenticate(request, settings, may_fetch=False)
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
    try:
        principal = _admin_candidate(request, settings, may_fetch=True)
    except FetchNeeded as need:
        await need.refresh()
        principal = _admin_candidate(request, settings, may_fetch=False)
    if principal.kind != "admin":
        raise ForbiddenError(
            "Admin access required",
            code="AUTH_UNAUTHORIZED",
            next_actions="Check the admin token is valid or login as admin to get a new token.",
        )
    return principal


def _admin_candidate(request: Request, settings: Settings, *, may_fetch: bool) -> Principal:
    bearer = _bearer(request)
    if _api_key(request, bearer, settings) is not None:
        return authenticate(request, settings)
    if bearer is None:
        raise AuthError(
            "No admin token provided", code="AUTH_INVALID_CREDENTIALS", next_actions=CHECK_TOKEN
        )
    # verifyAdmin treats anything else, an anon key included, as a JWT.
    return verify_token(bearer, settings, _jwks(request, settings), may_fetch=may_fetch)


PrincipalDep = Annotated[Principal, Depends(require_principal)]
AdminDep = Annotated[Principal, Depends(require_admin)]

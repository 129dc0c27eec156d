"""Credential dispatch and the 401/403 bodies of the legacy backend, as units."""

import asyncio
import base64
import hashlib
import hmac
import time
from types import SimpleNamespace

import orjson
import pytest
from starlette.requests import Request

from app.auth import _verified, authenticate, require_admin, require_principal, verify_token
from app.config import Settings
from app.errors import AuthError, GatewayError, legacy_body
from tests.factories import (
    ANON_KEY,
    API_KEY,
    JWT_SECRET,
    legacy_anon_jwt,
    make_settings,
    make_token,
)
from tests.inprocess import gateway

SETTINGS = make_settings()


def request_with(headers: dict[str, str], settings: Settings = SETTINGS) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    state = {"gateway": SimpleNamespace(settings=settings)}
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw, "state": state})


def failure(headers: dict[str, str]) -> bytes:
    with pytest.raises(GatewayError) as caught:
        asyncio.run(require_principal(request_with(headers)))
    return legacy_body(caught.value)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


CHECK = b'"nextActions":"Check the token is valid or login to get a new token."}'
INVALID_TOKEN = b'{"error":"AUTH_UNAUTHORIZED","message":"Invalid token","statusCode":401}'


def test_no_header() -> None:
    assert failure({}) == (
        b'{"error":"AUTH_INVALID_CREDENTIALS","message":"No token provided","statusCode":401,'
        + CHECK
    )
    assert failure({"Authorization": "Basic abc"}).startswith(
        b'{"error":"AUTH_INVALID_CREDENTIALS"'
    )


@pytest.mark.parametrize(
    "token",
    [
        make_token(expires_in=-10),
        make_token(secret="another-secret-entirely-000000"),
        make_token(algorithm="HS384"),
        make_token(algorithm="HS512"),
        "not.a.jwt",
        _b64({"alg": "none", "typ": "JWT"})
        + "."
        + _b64({"sub": "u", "role": "authenticated"})
        + ".",
    ],
    ids=["expired", "bad-signature", "hs384", "hs512", "garbage", "alg-none"],
)
def test_invalid_tokens_give_auth_unauthorized(token: str) -> None:
    assert failure({"Authorization": f"Bearer {token}"}) == INVALID_TOKEN


def _signed(header: dict[str, object], payload: str) -> str:
    """A JWT signed with the test secret over a payload given as raw JSON text."""
    encoded = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()
    signing_input = _b64(header) + "." + encoded
    sig = hmac.new(JWT_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


def test_rs256_header_signed_with_hs_secret_is_refused() -> None:
    token = _signed({"alg": "RS256", "typ": "JWT"}, '{"sub":"u"}')
    assert failure({"Authorization": f"Bearer {token}"}) == INVALID_TOKEN


def _with_claim(name: str, literal: str) -> str:
    """A validly signed HS256 token whose `name` claim is the JSON text `literal`."""
    exp = "" if name == "exp" else f',"exp":{int(time.time()) + 900}'
    payload = f'{{"sub":"u-t","role":"authenticated"{exp},"{name}":{literal}}}'
    return _signed({"alg": "HS256", "typ": "JWT"}, payload)


# RFC 7519 NumericDates are JSON numbers: python-jose's `int()` takes a numeric string (and such
# an `exp` was then cached as never expiring), and 1e400 parses to inf, whose `int()` overflowed
# into a 500.
BAD_TIMES = [
    ("exp", '"99999999999"'),
    ("exp", "1e400"),
    ("exp", "-1e400"),
    ("exp", "Infinity"),
    ("exp", "1" + "0" * 400),
    ("nbf", '"0"'),
    ("nbf", "1e400"),
    ("nbf", "-1e400"),
    ("nbf", "true"),
    ("iat", '"0"'),
    ("iat", "1e400"),
    ("iat", "-1e400"),
    ("iat", "false"),
]


@pytest.mark.parametrize(("name", "literal"), BAD_TIMES, ids=[f"{n}={v[:8]}" for n, v in BAD_TIMES])
def test_time_claims_must_be_finite_json_numbers(name: str, literal: str) -> None:
    token = _with_claim(name, literal)
    assert failure({"Authorization": f"Bearer {token}"}) == INVALID_TOKEN
    with pytest.raises(AuthError) as caught:
        verify_token(token, SETTINGS)
    assert caught.value.status_code == 401
    assert (JWT_SECRET, token) not in _verified


def test_numeric_time_claims_are_still_accepted() -> None:
    now = int(time.time())
    token = _signed(
        {"alg": "HS256", "typ": "JWT"},
        f'{{"sub":"u-ok","exp":{now + 900}.5,"nbf":{now - 60},"iat":{now - 60}.25}}',
    )
    assert verify_token(token, SETTINGS).id == "u-ok"


def test_a_string_exp_is_never_cached() -> None:
    token = _with_claim("exp", f'"{int(time.time()) + 900}"')
    for _ in range(2):
        with pytest.raises(AuthError):
            verify_token(token, SETTINGS)
        assert (JWT_SECRET, token) not in _verified


async def test_an_infinite_exp_is_a_401_on_the_route_not_a_500() -> None:
    async with gateway(SETTINGS) as (client, upstream):
        resp = await client.post(
            "/api/ai/chat/completion",
            json={"model": "m", "messages": [{"role": "user", "content": "Hi"}]},
            headers={"Authorization": f"Bearer {_with_claim('exp', '1e400')}"},
        )
    assert resp.status_code == 401
    assert resp.content == INVALID_TOKEN
    assert upstream.bodies == []


def test_missing_subject() -> None:
    assert failure({"Authorization": f"Bearer {make_token(None)}"}) == (
        b'{"error":"AUTH_UNAUTHORIZED","message":"Invalid token subject","statusCode":401}'
    )


def test_wrong_keys() -> None:
    assert failure({"Authorization": "Bearer anon_wrong"}) == (
        b'{"error":"AUTH_INVALID_CREDENTIALS","message":"Invalid anon key","statusCode":401,'
        + CHECK
    )
    api = (
        b'{"error":"AUTH_INVALID_API_KEY","message":"Invalid API key","statusCode":401,'
        b'"nextActions":"Check the API key is valid or generate a new API key."}'
    )
    assert failure({"Authorization": "Bearer ik_wrong"}) == api
    # x-api-key wins over a valid bearer JWT, as in the legacy backend.
    assert failure({"x-api-key": "nope", "Authorization": f"Bearer {make_token()}"}) == api


def test_accepted_credentials() -> None:
    user = authenticate(request_with({"Authorization": f"Bearer {make_token('u-9')}"}), SETTINGS)
    assert (user.id, user.role, user.kind) == ("u-9", "authenticated", "user")
    no_role = authenticate(
        request_with({"Authorization": f"Bearer {make_token(role=None)}"}), SETTINGS
    )
    assert no_role.role == "authenticated"
    for headers in ({"Authorization": f"Bearer {API_KEY}"}, {"x-api-key": API_KEY}):
        assert authenticate(request_with(headers), SETTINGS).kind == "admin"
    legacy = authenticate(request_with({"Authorization": f"Bearer {legacy_anon_jwt()}"}), SETTINGS)
    assert legacy.kind == "anon"


def test_anonymous_refused_unless_allowed() -> None:
    for bearer in ("anon_test_key", legacy_anon_jwt()):
        body = orjson.loads(failure({"Authorization": f"Bearer {bearer}"}))
        assert body["statusCode"] == 403
        assert list(body) == ["error", "message", "statusCode", "nextActions"]
        assert "AI_ALLOW_ANON=true" in body["message"]
        allowed = make_settings(ai_allow_anon=True)
        principal = asyncio.run(
            require_principal(request_with({"Authorization": f"Bearer {bearer}"}, allowed))
        )
        assert principal.kind == "anon"


def test_keys_without_prefix_in_env_get_it() -> None:
    settings = make_settings(access_api_key="plainkey", access_anon_key="plainanon")
    assert authenticate(request_with({"x-api-key": "ik_plainkey"}), settings).kind == "admin"
    anon = authenticate(request_with({"Authorization": "Bearer anon_plainanon"}), settings)
    assert anon.kind == "anon"


def test_cached_verification_still_expires() -> None:
    token = make_token("u-cache", expires_in=1)
    assert verify_token(token, SETTINGS).id == "u-cache"
    assert verify_token(token, SETTINGS).id == "u-cache"  # served from the cache
    time.sleep(1.1)
    with pytest.raises(GatewayError) as caught:
        verify_token(token, SETTINGS)
    assert caught.value.message == "Invalid token"
    other = make_settings(jwt_secret="a-different-secret-0123456789")
    with pytest.raises(GatewayError):
        verify_token(make_token("u-x"), other)  # a cached entry is per secret


def test_the_anon_key_in_x_api_key_leaves_the_bearer_to_decide() -> None:
    """The Python SDK sends its project key in x-api-key and the user's token beside it."""
    user = authenticate(
        request_with({"x-api-key": ANON_KEY, "Authorization": f"Bearer {make_token('u-7')}"}),
        SETTINGS,
    )
    assert (user.id, user.kind) == ("u-7", "user")
    anon = authenticate(
        request_with({"x-api-key": ANON_KEY, "Authorization": f"Bearer {ANON_KEY}"}), SETTINGS
    )
    assert anon.kind == "anon"
    expired = make_token(expires_in=-10)
    assert failure({"x-api-key": ANON_KEY, "Authorization": f"Bearer {expired}"}) == INVALID_TOKEN
    # Alone, the anon key is still no API key; and the admin key still wins over a token.
    assert orjson.loads(failure({"x-api-key": ANON_KEY}))["error"] == "AUTH_INVALID_API_KEY"
    admin = authenticate(
        request_with({"x-api-key": API_KEY, "Authorization": f"Bearer {make_token()}"}), SETTINGS
    )
    assert admin.kind == "admin"


def test_admin_routes_with_the_anon_key_in_x_api_key_go_by_the_token() -> None:
    def admin(headers: dict[str, str]) -> object:
        return asyncio.run(require_admin(request_with(headers)))

    admin_jwt = make_token("local:admin", role="project_admin")
    principal = admin({"x-api-key": ANON_KEY, "Authorization": f"Bearer {admin_jwt}"})
    assert getattr(principal, "kind", None) == "admin"
    with pytest.raises(GatewayError) as caught:
        admin({"x-api-key": ANON_KEY, "Authorization": f"Bearer {make_token()}"})
    assert (caught.value.status_code, caught.value.message) == (403, "Admin access required")
    with pytest.raises(GatewayError) as caught:
        admin({"x-api-key": ANON_KEY})
    assert caught.value.code == "AUTH_INVALID_API_KEY"

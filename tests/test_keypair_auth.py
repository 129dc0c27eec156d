"""InsForge's key-pair mode (JWT_PUBLIC_KEY, JWT_KEY_ID): an RS256 token whose kid is
JWT_KEY_ID verifies with the public key, every other token takes the HS256 path, and no key
ever verifies the other family's tokens; refusals are the contract's 401 bodies."""

import asyncio
import logging
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError
from starlette.requests import Request

import app.auth
from app.auth import _verified, authenticate, require_admin, require_principal, verify_token
from app.claims import Principal
from app.config import Settings
from app.errors import AuthError, GatewayError, legacy_body
from app.keypair import key_pair
from tests.factories import JWT_SECRET, legacy_anon_jwt, make_settings, make_token
from tests.inprocess import gateway
from tests.signing import (
    KEY_ID,
    ec_key,
    forge,
    insforge_token,
    key_pair_settings,
    private_pem,
    public_pem,
    rsa_key,
    sign,
)

SETTINGS = key_pair_settings()
PEM = public_pem(rsa_key())
INVALID_TOKEN = b'{"error":"AUTH_UNAUTHORIZED","message":"Invalid token","statusCode":401}'
INVALID_SUBJECT = (
    b'{"error":"AUTH_UNAUTHORIZED","message":"Invalid token subject","statusCode":401}'
)
CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def request_with(headers: dict[str, str], settings: Settings = SETTINGS) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    state = {"gateway": SimpleNamespace(settings=settings, jwks=None)}
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw, "state": state})


def failure(token: str, settings: Settings = SETTINGS) -> bytes:
    with pytest.raises(GatewayError) as caught:
        asyncio.run(require_principal(request_with(bearer(token), settings)))
    return legacy_body(caught.value)


def test_an_insforge_rs256_token_verifies_with_the_public_key() -> None:
    user = authenticate(request_with(bearer(insforge_token("u-rs", email="a@ex.com"))), SETTINGS)
    assert user == Principal(id="u-rs", role="authenticated", kind="user", email="a@ex.com")
    no_role = authenticate(request_with(bearer(insforge_token("u-2", role=None))), SETTINGS)
    assert (no_role.role, no_role.kind) == ("authenticated", "user")
    admin = asyncio.run(
        require_admin(request_with(bearer(insforge_token("u-adm", role="project_admin"))))
    )
    assert (admin.id, admin.kind) == ("u-adm", "admin")


def test_hs256_tokens_still_verify_beside_the_key_pair() -> None:
    """The backend keeps both: its HS256 tokens (the legacy anon JWT too) go on verifying."""
    assert authenticate(request_with(bearer(make_token("u-hs"))), SETTINGS).id == "u-hs"
    assert authenticate(request_with(bearer(legacy_anon_jwt())), SETTINGS).kind == "anon"
    assert failure(make_token(secret="another-secret-entirely-000000")) == INVALID_TOKEN


CONFUSIONS = {
    # The RS256 family's header, but an HMAC under either key as the signature.
    "rs256-kid-hmac-jwt-secret": forge({"alg": "RS256", "kid": KEY_ID}, {}, JWT_SECRET.encode()),
    "rs256-kid-hmac-public-pem": forge({"alg": "RS256", "kid": KEY_ID}, {}, PEM.encode()),
    # The classic confusion: HS256, with the public key (known to all) as the HMAC secret.
    "hs256-hmac-public-pem": forge({"alg": "HS256", "typ": "JWT"}, {}, PEM.encode()),
    "hs256-kid-hmac-public-pem": forge({"alg": "HS256", "kid": KEY_ID}, {}, PEM.encode()),
    "hs256-hmac-public-pem-stripped": forge({"alg": "HS256"}, {}, PEM.strip().encode()),
    "none": forge({"alg": "none"}, {}, None),
    "none-kid": forge({"alg": "none", "kid": KEY_ID}, {}, None),
    # Right key, but a kid the backend would not have used it for, or none.
    "rs256-unknown-kid": sign(rsa_key(), "another-kid"),
    "rs256-no-kid": sign(rsa_key(), None),
    # Right kid, wrong key or algorithm.
    "rs256-kid-other-rsa-key": sign(rsa_key("other"), KEY_ID),
    "es256-kid": sign(ec_key(), KEY_ID),
    "rs512-kid": sign(rsa_key(), KEY_ID, algorithm="RS512"),
    "hs512": make_token(algorithm="HS512"),
}


@pytest.mark.parametrize("token", list(CONFUSIONS.values()), ids=list(CONFUSIONS))
def test_no_key_verifies_the_other_family(token: str) -> None:
    assert failure(token) == INVALID_TOKEN
    hs256_only = make_settings()  # and a gateway without the key pair refuses each as before
    assert failure(token, hs256_only) == INVALID_TOKEN


def test_key_pair_tokens_must_expire_and_name_a_subject() -> None:
    assert failure(insforge_token(expires_in=-10)) == INVALID_TOKEN
    assert failure(insforge_token(expires_in=None)) == INVALID_TOKEN
    assert failure(insforge_token(sub=None)) == INVALID_SUBJECT
    assert failure(insforge_token(sub="")) == INVALID_SUBJECT


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (sign(rsa_key("other"), KEY_ID), "bad signature (is JWT_PUBLIC_KEY the backend's?)"),
        (sign(rsa_key(), "another-kid"), "unknown kid (InsForge RS256 tokens carry kid"),
        (insforge_token(expires_in=None), "missing exp"),
        (insforge_token(expires_in=-10), "expired"),
        (make_token(secret="another-secret-entirely-000000"), "bad signature (is JWT_SECRET"),
    ],
    ids=["other-key", "unknown-kid", "no-exp", "expired", "hs256-bad-signature"],
)
def test_a_refusal_logs_its_reason(
    caplog: pytest.LogCaptureFixture, token: str, reason: str
) -> None:
    with caplog.at_level(logging.INFO, logger="app.auth"):
        failure(token)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "app.auth"]
    assert line.startswith(f"token refused: {reason}"), line
    assert token not in caplog.text


def test_the_cache_serves_key_pair_tokens_and_never_outlives_exp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = insforge_token("u-cache", expires_in=1.2)
    assert verify_token(token, SETTINGS).id == "u-cache"
    entry = (key_pair(str(SETTINGS.jwt_public_key), KEY_ID).scope, token)
    assert entry in _verified

    def no_second_verification(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("verified again instead of served from the cache")

    with monkeypatch.context() as patched:
        patched.setattr(app.auth, "decode", no_second_verification)
        assert verify_token(token, SETTINGS).id == "u-cache"
    # Another key (or kid) never takes the entry this one made.
    other = make_settings(jwt_public_key=public_pem(rsa_key("other")), jwt_key_id=KEY_ID)
    with pytest.raises(AuthError):
        verify_token(token, other)
    time.sleep(max(0.0, _verified[entry][1] - time.time()) + 0.05)
    with pytest.raises(AuthError) as caught:
        verify_token(token, SETTINGS)
    assert caught.value.message == "Invalid token"


def test_without_jwt_secret_only_key_pair_tokens_verify() -> None:
    settings = key_pair_settings(jwt_secret="")
    assert verify_token(insforge_token("u-only-rs"), settings).id == "u-only-rs"
    # An HS256 token HMAC'd with the empty key must not pass for one signed with "no secret".
    assert failure(forge({"alg": "HS256"}, {}, b""), settings) == INVALID_TOKEN
    with pytest.raises(ValidationError, match="or set JWT_PUBLIC_KEY or JWT_JWKS_URL instead"):
        make_settings(jwt_secret="")
    with pytest.raises(ValidationError, match="JWT_SECRET is empty or a placeholder"):
        key_pair_settings(jwt_secret="changeme")


async def test_both_surfaces_accept_an_rs256_token_and_refuse_a_confused_one() -> None:
    token = insforge_token("u-wire", role="project_admin")
    forged = CONFUSIONS["hs256-hmac-public-pem"]
    async with gateway(SETTINGS) as (client, upstream):
        legacy = await client.post("/api/ai/chat/completion", json=CHAT, headers=bearer(token))
        openai = await client.post("/api/v1/chat/completions", json=CHAT, headers=bearer(token))
        admin = await client.get("/api/ai/config", headers=bearer(token))
        refused = await client.post("/api/ai/chat/completion", json=CHAT, headers=bearer(forged))
        refused_v1 = await client.post(
            "/api/v1/chat/completions", json=CHAT, headers=bearer(forged)
        )
    assert (legacy.status_code, openai.status_code, admin.status_code) == (200, 200, 200)
    assert upstream.bodies[1]["user"] == "u-wire"
    assert len(upstream.bodies) == 2
    assert (refused.status_code, refused.content) == (401, INVALID_TOKEN)
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused_v1.status_code == 401
    assert refused_v1.json() == {
        "error": {
            "message": "Invalid token",
            "type": "authentication_error",
            "code": "AUTH_UNAUTHORIZED",
        }
    }


# --- The settings ---


def test_the_public_key_may_be_a_path_or_an_escaped_line(tmp_path: Path) -> None:
    path = tmp_path / "jwt-public.pem"
    path.write_text(PEM)
    assert make_settings(jwt_public_key=str(path), jwt_key_id=KEY_ID).jwt_public_key == PEM.strip()
    one_line = PEM.strip().replace("\n", "\\n")
    settings = make_settings(jwt_public_key=one_line, jwt_key_id=KEY_ID)
    assert settings.jwt_public_key == PEM.strip()
    assert verify_token(insforge_token("u-path"), settings).id == "u-path"


def _refusal(**values: object) -> str:
    with pytest.raises(ValidationError) as caught:
        make_settings(**values)
    (error,) = caught.value.errors()
    return str(error["msg"]).removeprefix("Value error, ")


def test_a_bad_public_key_is_refused_in_words_without_echoing_it(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello")
    truncated = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    cases = {
        "not-a-key": "neither a PEM public key nor the path of a readable file holding one",
        str(tmp_path / "missing.pem"): "neither a PEM public key nor the path",
        str(garbage): "holds no PEM public key",
        truncated: "not a PEM public key",
        private_pem(rsa_key()): "this is a private key; set the public key",
        public_pem(ec_key()): "not an RSA public key (InsForge's key pair signs RS256)",
        public_pem(rsa_key("short", 1024)): "an RSA key of 1024 bits; at least 2048",
    }
    for value, says in cases.items():
        message = _refusal(jwt_public_key=value, jwt_key_id=KEY_ID)
        assert says in message, (value[:40], message)
        assert "MII" not in message  # no key material
        assert "\n" not in message


def test_key_settings_that_do_not_fit_together_are_refused() -> None:
    assert "go together" in _refusal(jwt_public_key=PEM)
    assert "go together" in _refusal(jwt_key_id=KEY_ID)
    assert _refusal(jwt_issuer="https://idp.example") == (
        "JWT_ISSUER and JWT_AUDIENCE apply to JWKS tokens: set JWT_JWKS_URL"
    )
    assert _refusal(jwt_jwks_url="idp.example/jwks") == "must be an absolute http(s) URL"
    assert _refusal(jwt_jwks_url="https://i.example/k", jwt_leeway_s=31) == (
        "Input should be less than or equal to 30"
    )
    assert make_settings(jwt_jwks_url="https://i.example/k", jwt_leeway_s=30).jwt_leeway_s == 30
    # Empty values (as .env.example lists them) mean unset.
    unset = make_settings(jwt_public_key="", jwt_key_id="", jwt_jwks_url="", jwt_audience="")
    assert (unset.jwt_public_key, unset.jwt_key_id, unset.jwt_jwks_url) == (None, None, None)

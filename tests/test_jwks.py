"""Tokens of another identity provider, verified with the keys its JWKS URL publishes. The JWKS
is served from a real socket on 127.0.0.1 (tests/signing.py `JwksServer`, which counts its
fetches); the gateway runs in-process with its lifespan, so every request takes the real
dependency, fetch and cache."""

import asyncio
import base64
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from jose import jwt

import app.jwks
from app.auth import _verified
from app.config import Settings
from app.jwks import parse_jwks
from tests.factories import JWT_SECRET, make_settings, make_token
from tests.inprocess import gateway
from tests.signing import JwksServer, ec_key, forge, jwk, jwks_server, rsa_key, sign

CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}
LEGACY = "/api/ai/chat/completion"
OPENAI = "/api/v1/chat/completions"
INVALID_TOKEN = b'{"error":"AUTH_UNAUTHORIZED","message":"Invalid token","statusCode":401}'
UNAVAILABLE = {
    "error": "AUTH_KEYS_UNAVAILABLE",
    "message": "No key is available to verify this token: "
    "the gateway cannot fetch the identity provider's keys (JWKS).",
    "statusCode": 503,
    "nextActions": "Retry shortly; the operator can check JWT_JWKS_URL.",
}
RSA, EC = rsa_key("idp-rsa"), ec_key("idp-ec")


def settings_for(server: JwksServer, **overrides: Any) -> Settings:
    return make_settings(jwt_jwks_url=server.url, **overrides)


async def call(client: httpx.AsyncClient, token: str, path: str = LEGACY) -> httpx.Response:
    return await client.post(path, json=CHAT, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def idp() -> Iterator[JwksServer]:
    with jwks_server((RSA, "rsa-1"), (EC, "ec-1")) as server:
        yield server


@pytest.fixture
def no_cooldown(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fetches as often as asked (the cooldown is 5 s), so a test need not wait it out."""
    monkeypatch.setattr(app.jwks, "REFETCH_COOLDOWN_S", 0.0)


async def test_rs256_and_es256_tokens_verify_after_one_fetch(idp: JwksServer) -> None:
    async with gateway(settings_for(idp)) as (client, upstream):
        assert idp.fetches == 0  # fetched when a token first needs it
        admin = sign(RSA, "rsa-1", sub="u-admin", role="project_admin")
        config = await client.get("/api/ai/config", headers={"Authorization": f"Bearer {admin}"})
        rs256 = await call(client, sign(RSA, "rsa-1", sub="u-rsa"))
        es256 = sign(EC, "ec-1", sub="u-ec")
        answers = [await call(client, es256, OPENAI), await call(client, es256, OPENAI)]
    assert [a.status_code for a in (config, rs256, *answers)] == [200] * 4
    assert [body.get("user") for body in upstream.bodies[1:]] == ["u-ec", "u-ec"]
    assert idp.fetches == 1


async def test_expired_and_malformed_jwks_tokens_are_the_contracts_401(idp: JwksServer) -> None:
    async with gateway(settings_for(idp)) as (client, _upstream):
        assert (await call(client, sign(RSA, "rsa-1"))).status_code == 200
        refused = [
            await call(client, token)
            for token in (
                sign(RSA, "rsa-1", expires_in=-10),
                sign(EC, "ec-1", expires_in=None),  # key-pair tokens must expire
                sign(RSA, None),  # a JWKS key is chosen by kid
                sign(rsa_key("stranger"), "rsa-1"),  # the kid of one key, signed by another
            )
        ]
        subject = await call(client, sign(EC, "ec-1", sub=None))
    assert [(r.status_code, r.content) for r in refused] == [(401, INVALID_TOKEN)] * 4
    assert subject.json()["message"] == "Invalid token subject"
    assert idp.fetches == 1


async def test_an_unknown_kid_asks_for_one_fetch_then_is_refused(
    idp: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stranger = rsa_key("stranger")
    async with gateway(settings_for(idp)) as (client, _upstream):
        assert (await call(client, sign(RSA, "rsa-1"))).status_code == 200
        # Within the cooldown since that fetch: refused at once, the JWKS left alone.
        first = await call(client, sign(stranger, "unknown-kid"))
        assert (first.status_code, first.content, idp.fetches) == (401, INVALID_TOKEN, 1)
        monkeypatch.setattr(app.jwks, "REFETCH_COOLDOWN_S", 0.0)
        second = await call(client, sign(stranger, "unknown-kid"))
    assert (second.status_code, second.content, idp.fetches) == (401, INVALID_TOKEN, 2)


@pytest.mark.usefixtures("no_cooldown")
async def test_a_rotated_key_is_picked_up_by_one_fetch_for_50_concurrent_requests(
    idp: JwksServer,
) -> None:
    rotated = rsa_key("idp-rsa-2")
    async with gateway(settings_for(idp)) as (client, upstream):
        assert (await call(client, sign(RSA, "rsa-1"))).status_code == 200
        idp.document = {"keys": [jwk(RSA, "rsa-1"), jwk(rotated, "rsa-2"), jwk(EC, "ec-1")]}
        idp.delay_s = 0.3  # the fetch is still running while all 50 arrive
        tokens = [sign(rotated, "rsa-2", sub=f"u-{n}") for n in range(50)]
        answers = await asyncio.gather(*(call(client, token) for token in tokens))
    assert [a.status_code for a in answers] == [200] * 50
    assert idp.fetches == 2
    assert len(upstream.bodies) == 51


@pytest.mark.usefixtures("no_cooldown")
async def test_held_keys_outlive_their_ttl_while_the_jwks_is_unreachable(
    idp: JwksServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with gateway(settings_for(idp, jwt_jwks_cache_ttl_s=0.1)) as (client, _upstream):
        assert (await call(client, sign(RSA, "rsa-1"))).status_code == 200
        idp.stop()
        await asyncio.sleep(0.15)
        with caplog.at_level(logging.INFO, logger="app.auth"):
            stale = await call(client, sign(EC, "ec-1"))
            unknown = await call(client, sign(rsa_key("stranger"), "rsa-9"))
        monkeypatch.setattr(app.jwks, "STALE_GRACE_S", 0.0)
        too_stale = await call(client, sign(RSA, "rsa-1"))
    assert stale.status_code == 200
    assert f"JWKS fetch from http://127.0.0.1:{idp.port}/ failed: could not fetch" in caplog.text
    assert "keeping the keys held" in caplog.text
    # While the URL fails, a kid not held may be a new key: 503, not a 401 that ends a session.
    assert (unknown.status_code, unknown.json()) == (503, UNAVAILABLE)
    assert too_stale.status_code == 503


async def test_no_key_at_all_is_a_503_in_either_envelope(idp: JwksServer) -> None:
    idp.status = 503
    async with gateway(settings_for(idp)) as (client, upstream):
        legacy = await call(client, sign(RSA, "rsa-1"))
        openai = await call(client, sign(RSA, "rsa-1"), OPENAI)
        hs256 = await call(client, make_token("u-hs"))  # InsForge's own tokens need no JWKS
    assert (legacy.status_code, legacy.json()) == (503, UNAVAILABLE)
    assert legacy.headers["retry-after"] == "5"
    assert openai.status_code == 503
    assert openai.json() == {
        "error": {
            "message": UNAVAILABLE["message"],
            "type": "api_error",
            "code": "AUTH_KEYS_UNAVAILABLE",
        }
    }
    assert hs256.status_code == 200
    assert len(upstream.bodies) == 1
    assert idp.fetches == 1  # the second token came within the cooldown: no second attempt


def _oct(kid: str, secret: bytes) -> dict[str, Any]:
    return {"kty": "oct", "kid": kid, "k": base64.urlsafe_b64encode(secret).decode().rstrip("=")}


async def test_no_jwks_entry_verifies_another_family() -> None:
    symmetric = b"a-shared-secret-in-the-jwks-0123"
    document = {
        "keys": [
            jwk(RSA, "rsa-1"),
            jwk(EC, "ec-1"),
            _oct("oct-1", symmetric),
            jwk(rsa_key("enc"), "enc-1", use="enc"),
        ]
    }
    public_jwk = orjson.dumps(jwk(RSA, "rsa-1"))
    confusions = {
        "es256-header-rsa-kid": sign(EC, "rsa-1"),
        "rs256-header-ec-kid": sign(RSA, "ec-1"),
        "hs256-oct-kid-oct-secret": forge({"alg": "HS256", "kid": "oct-1"}, {}, symmetric),
        "rs256-oct-kid": sign(RSA, "oct-1"),
        "hs256-hmac-public-jwk": forge({"alg": "HS256", "kid": "rsa-1"}, {}, public_jwk),
        "rs256-rsa-kid-hmac-jwt-secret": forge(
            {"alg": "RS256", "kid": "rsa-1"}, {}, JWT_SECRET.encode()
        ),
        "none-rsa-kid": forge({"alg": "none", "kid": "rsa-1"}, {}, None),
        "encryption-key": sign(rsa_key("enc"), "enc-1"),
        "es512-header": sign(ec_key("p384", "P-384"), "ec-1", algorithm="ES384"),
    }
    with jwks_server() as server:
        server.document = document
        async with gateway(settings_for(server)) as (client, _upstream):
            answers = {name: await call(client, token) for name, token in confusions.items()}
            insforge = await call(client, make_token("u-hs"))
    refused = {name: (a.status_code, a.content) for name, a in answers.items()}
    assert refused == dict.fromkeys(confusions, (401, INVALID_TOKEN))
    assert insforge.status_code == 200


async def test_issuer_audience_and_leeway_apply_to_jwks_tokens(idp: JwksServer) -> None:
    settings = settings_for(
        idp, jwt_issuer="https://idp.example", jwt_audience="ai-gateway", jwt_leeway_s=10
    )
    good: dict[str, Any] = {"iss": "https://idp.example", "aud": "ai-gateway"}
    tokens = {
        "right": sign(RSA, "rsa-1", **good),
        "one-of-several-audiences": sign(RSA, "rsa-1", iss=good["iss"], aud=["x", "ai-gateway"]),
        "within-leeway": sign(RSA, "rsa-1", expires_in=-5, **good),
        "wrong-audience": sign(RSA, "rsa-1", iss=good["iss"], aud="another-app"),
        "no-audience": sign(RSA, "rsa-1", iss=good["iss"]),
        "wrong-issuer": sign(RSA, "rsa-1", iss="https://evil.example", aud=good["aud"]),
        "no-issuer": sign(RSA, "rsa-1", aud=good["aud"]),
        "beyond-leeway": sign(RSA, "rsa-1", expires_in=-20, **good),
    }
    async with gateway(settings) as (client, _upstream):
        statuses = {name: (await call(client, token)).status_code for name, token in tokens.items()}
        again = await call(client, tokens["within-leeway"])  # verified again, not from the cache
    # The cache keeps a token until its `exp`, never into the leeway.
    for name in ("right", "within-leeway"):
        (expires,) = [entry[1] for (_, token), entry in _verified.items() if token == tokens[name]]
        assert expires == jwt.get_unverified_claims(tokens[name])["exp"]
    assert again.status_code == 200
    assert statuses == {
        "right": 200,
        "one-of-several-audiences": 200,
        "within-leeway": 200,
        "wrong-audience": 401,
        "no-audience": 401,
        "wrong-issuer": 401,
        "no-issuer": 401,
        "beyond-leeway": 401,
    }


# --- Where the fetch may go: the configured host, and other hosts by the asset rules ---


async def test_a_redirect_on_the_configured_host_is_followed(idp: JwksServer) -> None:
    moved = make_settings(jwt_jwks_url=idp.url.replace(idp.JWKS_PATH, "/moved"))
    async with gateway(moved) as (client, _upstream):
        assert (await call(client, sign(RSA, "rsa-1"))).status_code == 200


@pytest.mark.parametrize(
    ("host", "trusted", "status"),
    [
        ("localhost", "", 503),  # a name that resolves to loopback: refused as assets are
        ("0x7f000001", "", 503),  # 127.0.0.1 spelled otherwise is another host, and loopback
        ("localhost", "127.0.0.0/8,::1/128", 200),  # unless ASSET_TRUSTED_NETWORKS has it
        ("0x7f000001", "127.0.0.0/8", 200),
    ],
)
async def test_a_redirect_to_another_host_takes_the_asset_rules(
    idp: JwksServer, caplog: pytest.LogCaptureFixture, host: str, trusted: str, status: int
) -> None:
    idp.redirect_to = f"http://{host}:{idp.port}{idp.DIRECT_PATH}"
    # Plain http is for this test server; the asset rules would refuse it before the address.
    settings = settings_for(idp, asset_allow_http=True, asset_trusted_networks=trusted)
    with caplog.at_level(logging.WARNING, logger="app.auth"):
        async with gateway(settings) as (client, _upstream):
            answer = await call(client, sign(RSA, "rsa-1"))
    assert answer.status_code == status
    if status == 503:
        assert f"redirect to http://{host}:{idp.port}/ refused" in caplog.text
        assert "non-public address" in caplog.text
        assert idp.fetches == 1
    else:
        assert idp.fetches == 2


def test_only_keys_for_one_signature_algorithm_are_kept() -> None:
    small = rsa_key("small", 1024)
    off_curve = {**jwk(EC, "off-curve"), "y": jwk(ec_key("other"), "x")["y"]}
    no_kid = {k: v for k, v in jwk(RSA, "x").items() if k != "kid"}
    document = {
        "keys": [
            jwk(RSA, "rsa"),
            jwk(EC, "ec"),
            jwk(RSA, "no-alg", alg=None) | {"alg": "RS256"},
            {k: v for k, v in jwk(EC, "no-use").items() if k != "use"},
            jwk(rsa_key("dup"), "rsa"),  # a second key of a kid: the first one stays
            jwk(small, "small"),
            jwk(ec_key("p384", "P-384"), "p384"),
            jwk(RSA, "rs512", alg="RS512"),
            jwk(RSA, "enc", use="enc"),
            _oct("oct", b"0123456789abcdef0123456789abcdef"),
            off_curve,
            no_kid,
            "not a key",
        ]
    }
    keys = parse_jwks(document)
    assert sorted(keys) == ["ec", "no-alg", "no-use", "rsa"]
    assert (keys["rsa"].algorithm, keys["ec"].algorithm) == ("RS256", "ES256")
    assert keys["rsa"].key.to_dict()["n"] == jwk(RSA, "rsa")["n"]
    unusable: list[object] = [{"keys": []}, {"keys": [jwk(small, "small")]}, [], {"keys": {}}]
    for each in unusable:
        with pytest.raises(ValueError, match="JWKS"):
            parse_jwks(each)

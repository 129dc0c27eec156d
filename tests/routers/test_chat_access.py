"""Auth, request limits and CORS on the gateway, in-process."""

from collections.abc import Iterator

import httpx
import pytest

from mock_openrouter.testing import MockControl
from tests.factories import ANON_KEY, API_KEY, legacy_anon_jwt, make_token
from tests.gateways import GatewayFactory

PATH = "/api/ai/chat/completion"
BODY = {"model": "mock/text", "messages": [{"role": "user", "content": "Hi"}]}


STRICT = {
    "AI_ALLOW_ANON": "true",
    "MAX_REQUEST_BYTES": "2000",
    "MAX_MESSAGES": "3",
    "MAX_PROMPT_CHARS": "50",
    "CORS_ORIGINS": "https://app.example.com",
}


@pytest.fixture
def strict(gateway_factory: GatewayFactory) -> Iterator[httpx.Client]:
    with gateway_factory.inprocess(**STRICT).client() as c:
        yield c


def test_no_token_and_expired_token(client: httpx.Client, journal: MockControl) -> None:
    resp = client.post(PATH, json=BODY)
    assert resp.status_code == 401
    assert resp.json()["error"] == "AUTH_INVALID_CREDENTIALS"
    assert resp.headers["www-authenticate"] == "Bearer"
    expired = {"Authorization": f"Bearer {make_token(expires_in=-5)}"}
    resp = client.post(PATH, json=BODY, headers=expired)
    assert (
        resp.content == b'{"error":"AUTH_UNAUTHORIZED","message":"Invalid token","statusCode":401}'
    )
    assert journal.requests() == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {API_KEY}"},
        {"x-api-key": API_KEY},
        {"Authorization": f"Bearer {make_token('u-1', role='project_admin')}"},
    ],
)
def test_admin_credentials_accepted(client: httpx.Client, headers: dict[str, str]) -> None:
    assert client.post(PATH, json=BODY, headers=headers).status_code == 200


def test_wrong_api_key(client: httpx.Client) -> None:
    resp = client.post(PATH, json=BODY, headers={"Authorization": "Bearer ik_wrong"})
    assert resp.status_code == 401
    assert resp.json()["error"] == "AUTH_INVALID_API_KEY"


@pytest.mark.parametrize("bearer", [ANON_KEY, "legacy-jwt"])
def test_anon_refused_by_default_allowed_when_enabled(
    client: httpx.Client, strict: httpx.Client, journal: MockControl, bearer: str
) -> None:
    token = legacy_anon_jwt() if bearer == "legacy-jwt" else bearer
    headers = {"Authorization": f"Bearer {token}"}
    refused = client.post(PATH, json=BODY, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["error"] == "FORBIDDEN"
    assert "AI_ALLOW_ANON=true" in refused.json()["message"]
    assert journal.requests() == []
    assert strict.post(PATH, json=BODY, headers=headers).status_code == 200


def test_body_limit_by_content_length(strict: httpx.Client, journal: MockControl) -> None:
    big = {**BODY, "messages": [{"role": "user", "content": "x" * 5000}]}
    resp = strict.post(PATH, json=big, headers={"Authorization": f"Bearer {make_token()}"})
    assert resp.status_code == 413
    body = resp.json()
    assert list(body) == ["error", "message", "statusCode", "nextActions"]
    assert body["statusCode"] == 413
    assert "MAX_REQUEST_BYTES" in body["nextActions"]
    assert journal.requests() == []


def test_body_limit_when_chunked(strict: httpx.Client, journal: MockControl) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"model":"mock/text","messages":[{"role":"user","content":"'
        for _ in range(50):
            yield b"y" * 100
        yield b'"}]}'

    resp = strict.post(
        PATH,
        content=chunks(),
        headers={"Authorization": f"Bearer {make_token()}", "Content-Type": "application/json"},
    )
    assert resp.status_code == 413
    assert resp.json()["statusCode"] == 413
    assert journal.requests() == []


def test_message_count_and_prompt_limits(strict: httpx.Client, journal: MockControl) -> None:
    headers = {"Authorization": f"Bearer {make_token()}"}
    many = {**BODY, "messages": [{"role": "user", "content": "a"}] * 4}
    resp = strict.post(PATH, json=many, headers=headers)
    assert resp.status_code == 400
    assert resp.json()["message"] == "Too many messages: 4 (this gateway allows 3)."
    long = {**BODY, "messages": [{"role": "user", "content": [{"type": "text", "text": "z" * 60}]}]}
    resp = strict.post(PATH, json=long, headers=headers)
    assert resp.status_code == 400
    assert resp.json()["message"].startswith("Prompt too long: 60 characters")
    assert journal.requests() == []


def test_cors_reflects_allowed_origin_only(strict: httpx.Client, client: httpx.Client) -> None:
    preflight = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    resp = strict.options(PATH, headers=preflight)
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "https://app.example.com"
    assert resp.headers["access-control-allow-credentials"] == "true"
    evil = strict.options(PATH, headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers
    # No origin is allowed by default.
    default = client.options(PATH, headers=preflight)
    assert "access-control-allow-origin" not in default.headers

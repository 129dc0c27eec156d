"""CORS: `*` answers any origin but never with credentials; a listed origin keeps them."""

import httpx
import pytest

from app.main import create_app
from tests.factories import make_settings

PATH = "/api/ai/chat/completion"
EVIL = "https://evil.example"
APP_ORIGIN = "https://app.example.com"


async def preflight(origins: list[str], origin: str) -> httpx.Response:
    app = create_app(make_settings(cors_origins=origins))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw"
    ) as client:
        return await client.options(
            PATH,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )


@pytest.mark.parametrize("origins", [["*"], ["*", APP_ORIGIN]])
async def test_wildcard_allows_any_origin_without_credentials(origins: list[str]) -> None:
    resp = await preflight(origins, EVIL)
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in resp.headers


async def test_wildcard_does_not_reflect_a_cookie_bearing_origin() -> None:
    app = create_app(make_settings(cors_origins=["*"]))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw"
    ) as client:
        resp = await client.get("/no-such-route", headers={"Origin": EVIL, "Cookie": "s=1"})
    assert resp.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in resp.headers


async def test_a_listed_origin_keeps_credentials() -> None:
    resp = await preflight([APP_ORIGIN], APP_ORIGIN)
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == APP_ORIGIN
    assert resp.headers["access-control-allow-credentials"] == "true"
    refused = await preflight([APP_ORIGIN], EVIL)
    assert "access-control-allow-origin" not in refused.headers


@pytest.mark.parametrize("origins", [[], [APP_ORIGIN]])
@pytest.mark.parametrize(("path", "envelope"), [(PATH, "legacy"), ("/api/v1/models", "openai")])
async def test_a_refused_preflight_says_what_to_set(
    origins: list[str], path: str, envelope: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: 404 "Endpoint not found" without CORS_ORIGINS, a bare "Disallowed CORS origin"
    with it. Now a 403 in the path's envelope naming the origin and CORS_ORIGINS, and one
    warning per origin for the operator."""
    app = create_app(make_settings(cors_origins=origins))
    headers = {"Origin": EVIL, "Access-Control-Request-Method": "POST"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw"
    ) as client:
        answers = [await client.options(path, headers=headers) for _ in range(2)]
    assert [a.status_code for a in answers] == [403, 403]
    body = answers[0].json()
    if envelope == "legacy":
        assert body["error"] == "CORS_ORIGIN_NOT_ALLOWED"
        text = body["message"] + " " + body["nextActions"]
    else:
        assert body["error"]["code"] == "CORS_ORIGIN_NOT_ALLOWED"
        text = body["error"]["message"]
    assert EVIL in text
    assert "CORS_ORIGINS" in text
    assert "access-control-allow-origin" not in answers[0].headers
    warned = [r.getMessage() for r in caplog.records if r.name == "app.cors"]
    assert len(warned) <= 1  # once per origin, in this process
    assert all("CORS_ORIGINS" in w and EVIL in w for w in warned)


async def test_an_allowed_preflight_and_a_plain_options_call_are_unchanged() -> None:
    assert (await preflight([APP_ORIGIN], APP_ORIGIN)).status_code == 200
    app = create_app(make_settings())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw"
    ) as client:
        plain = await client.options(PATH)  # no Origin: not a browser's preflight
    assert plain.status_code != 403

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

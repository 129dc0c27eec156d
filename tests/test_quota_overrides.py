"""An admin's limits per user (`/api/ai/quotas`), over the QUOTA_* defaults, kept in the ledger's
database (SQLite here; the store is the ledger's, tested on PostgreSQL in test_ledger.py)."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_app
from tests.factories import API_KEY, make_settings, make_token
from tests.inprocess import Recorder, asgi_client

ADMIN = {"x-api-key": API_KEY}
V1 = "/api/v1/chat/completions"
CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}


def bearer(user: str, role: str = "authenticated") -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user, role=role)}"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        ledger_enabled=True, database_url=f"sqlite:///{tmp_path / 'ledger.db'}", quota_rpm=3
    )
    app = create_app(settings, transport=httpx.MockTransport(Recorder()))
    async with asgi_client(app) as (c, _state):
        yield c


async def calls(client: httpx.AsyncClient, user: str, n: int) -> list[int]:
    return [(await client.post(V1, json=CHAT, headers=bearer(user))).status_code for _ in range(n)]


async def test_an_override_replaces_the_default_for_its_user_only(
    client: httpx.AsyncClient,
) -> None:
    put = await client.put("/api/ai/quotas/user-1", json={"rpm": 1}, headers=ADMIN)
    assert put.status_code == 200
    shown = put.json()
    assert shown["userId"] == "user-1"
    assert (shown["rpm"], shown["tokensPerDay"]) == (1, None)
    assert shown["effective"]["rpm"] == 1
    assert await calls(client, "user-1", 2) == [200, 429]
    assert await calls(client, "user-2", 4) == [200, 200, 200, 429]  # the default, 3


async def test_unlimited_lifts_the_default_and_zero_refuses_everything(
    client: httpx.AsyncClient,
) -> None:
    await client.put("/api/ai/quotas/vip", json={"rpm": "unlimited"}, headers=ADMIN)
    await client.put("/api/ai/quotas/blocked", json={"rpm": 0}, headers=ADMIN)
    assert await calls(client, "vip", 6) == [200] * 6
    assert await calls(client, "blocked", 1) == [429]
    vip = (await client.get("/api/ai/quotas/vip", headers=ADMIN)).json()
    assert (vip["rpm"], vip["effective"]["rpm"]) == ("unlimited", None)


async def test_read_list_and_remove(client: httpx.AsyncClient) -> None:
    none_yet = (await client.get("/api/ai/quotas/user-9", headers=ADMIN)).json()
    assert none_yet["updatedAt"] is None
    assert none_yet["effective"]["rpm"] == 3
    for user in ("b-user", "a-user"):
        body = {"usdPerDay": 0.5, "concurrentStreams": 2}
        assert (await client.put(f"/api/ai/quotas/{user}", json=body, headers=ADMIN)).is_success
    listed = (await client.get("/api/ai/quotas?limit=1", headers=ADMIN)).json()
    assert (listed["total"], [q["userId"] for q in listed["quotas"]]) == (2, ["a-user"])
    assert listed["defaults"] == {
        "rpm": 3,
        "tokensPerDay": None,
        "usdPerDay": None,
        "usdPerMonth": None,
        "concurrentStreams": None,
    }
    assert listed["quotas"][0]["effective"]["usdPerDay"] == 0.5
    assert (await client.delete("/api/ai/quotas/a-user", headers=ADMIN)).status_code == 200
    again = await client.delete("/api/ai/quotas/a-user", headers=ADMIN)
    assert (again.status_code, again.json()["error"]) == (404, "NOT_FOUND")


@pytest.mark.parametrize(
    "body",
    [{"rpm": -1}, {"rpm": "lots"}, {"usdPerDay": "NaN"}, {"concurrentStreams": 1.5}, [1]],
)
async def test_bad_values_are_refused(client: httpx.AsyncClient, body: Any) -> None:
    answer = await client.put("/api/ai/quotas/user-1", json=body, headers=ADMIN)
    assert answer.status_code == 400
    assert answer.json()["error"] == "INVALID_INPUT"


async def test_only_admins(client: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/api/ai/quotas"), ("PUT", "/api/ai/quotas/me")):
        assert (await client.request(method, path, json={})).status_code == 401
        refused = await client.request(method, path, json={}, headers=bearer("me"))
        assert refused.status_code == 403
        admin_jwt = bearer("boss", role="project_admin")
        assert (await client.request(method, path, json={}, headers=admin_jwt)).is_success


async def test_with_the_ledger_off_the_routes_answer_503() -> None:
    app = create_app(make_settings(quota_rpm=3), transport=httpx.MockTransport(Recorder()))
    async with asgi_client(app) as (client, _state):
        answer = await client.get("/api/ai/quotas", headers=ADMIN)
    assert (answer.status_code, answer.json()["error"]) == (503, "LEDGER_DISABLED")

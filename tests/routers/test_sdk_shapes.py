"""`GET /api/ai/credits`, and the answers that differ for `User-Agent: InsForge-Python/…`
(app/legacy/clients.py), with the gateway in-process and the mock as its upstream."""

from collections.abc import Iterator

import httpx
import pytest

from app.legacy.clients import is_python_sdk
from app.legacy.python_sdk import sdk_model
from mock_openrouter.testing import MockControl
from tests.factories import API_KEY, UPSTREAM_KEY

ADMIN = {"x-api-key": API_KEY}
SDK = {"User-Agent": "InsForge-Python/0.1.0"}
KEY_LIMIT_USD = 25.0


def test_credits_legacy_shape(client: httpx.Client, journal: MockControl) -> None:
    resp = client.get("/api/ai/credits", headers=ADMIN)
    assert resp.status_code == 200
    body = resp.json()
    assert list(body) == ["usage", "limit", "remaining"]
    assert (body["limit"], body["remaining"]) == (None, None)
    assert isinstance(body["usage"], int | float)
    (sent,) = journal.requests()
    assert sent["path"] == "/api/v1/key"


def test_credits_python_sdk_shape(client: httpx.Client) -> None:
    body = client.get("/api/ai/credits", headers={**ADMIN, **SDK}).json()
    assert list(body) == ["credits", "usage", "limit", "remaining"]
    assert body["credits"] == body["limit"]


@pytest.fixture
def key_limit(journal: MockControl) -> Iterator[float]:
    """The mock's key has a credit limit for one test (the mock is shared by every module)."""
    journal.config(key_limit=KEY_LIMIT_USD)
    yield KEY_LIMIT_USD
    journal.config(key_limit=None)


def test_credits_of_a_key_with_a_limit(
    client: httpx.Client, user_headers: dict[str, str], key_limit: float
) -> None:
    call = {"model": "mock/text", "messages": [{"role": "user", "content": "Hi"}]}
    assert client.post("/api/ai/chat/completion", json=call, headers=user_headers).is_success
    legacy = client.get("/api/ai/credits", headers=ADMIN).json()
    sdk = client.get("/api/ai/credits", headers={**ADMIN, **SDK}).json()
    assert 0 < legacy["usage"] < key_limit  # the call spent some of the limit
    assert legacy == {
        "usage": legacy["usage"],
        "limit": key_limit,
        "remaining": pytest.approx(key_limit - legacy["usage"], abs=1e-9),
    }
    assert sdk == {"credits": key_limit, **legacy}


@pytest.mark.parametrize(
    ("status", "code", "answered"),
    [(500, "AI_UPSTREAM_UNAVAILABLE", 500), (401, "AI_INVALID_API_KEY", 401)],
)
def test_credits_upstream_failure_in_the_legacy_envelope(
    client: httpx.Client, journal: MockControl, status: int, code: str, answered: int
) -> None:
    journal.enqueue([{"scenario": "error", "status": status}], path="/api/v1/key")
    resp = client.get("/api/ai/credits", headers=ADMIN)
    assert resp.status_code == answered
    body = resp.json()
    assert list(body)[:3] == ["error", "message", "statusCode"]
    assert (body["error"], body["statusCode"]) == (code, answered)
    assert UPSTREAM_KEY not in resp.text


def test_credits_need_an_admin(client: httpx.Client, user_headers: dict[str, str]) -> None:
    assert client.get("/api/ai/credits", headers=user_headers).status_code == 403
    assert client.get("/api/ai/credits").status_code == 401


def test_models_by_user_agent(client: httpx.Client) -> None:
    legacy = client.get("/api/ai/models", headers=ADMIN).json()
    assert isinstance(legacy, list)
    grouped = client.get("/api/ai/models", headers={**ADMIN, **SDK}).json()
    assert list(grouped) == ["text", "image"]
    ids = [m["id"] for m in grouped["text"][0]["models"]]
    assert ids == [m["id"] for m in legacy if "text" in m["outputModality"]]
    again = client.get("/api/ai/models", headers=ADMIN).json()
    assert again == legacy  # the two cached forms do not overwrite each other


def test_images_by_user_agent(client: httpx.Client, user_headers: dict[str, str]) -> None:
    body = {"model": "mock/image", "prompt": "A cat"}
    legacy = client.post("/api/ai/image/generation", json=body, headers=user_headers).json()
    sdk = client.post("/api/ai/image/generation", json=body, headers={**user_headers, **SDK}).json()
    assert legacy["images"]
    assert all(set(i) == {"type", "imageUrl"} for i in legacy["images"])
    assert [i["image_url"]["url"] for i in sdk["images"]] == [
        i["imageUrl"] for i in legacy["images"]
    ]
    assert {i["type"] for i in sdk["images"]} == {"image_url"}
    assert (sdk["model"], sdk["count"]) == ("mock/image", len(sdk["images"]))
    assert sdk["metadata"] == legacy["metadata"]


def test_only_the_python_sdk_is_the_python_sdk() -> None:
    assert is_python_sdk("InsForge-Python/0.1.0")
    for agent in (None, "", "insforge-python/0.1.0", "python-httpx/0.28", "InsForge-Python"):
        assert not is_python_sdk(agent)


def test_sdk_model_drops_what_the_sdk_would_refuse() -> None:
    raw = {
        "id": "a/b",
        "created": "yesterday",
        "context_length": True,
        "supported_parameters": ["tools", 3],
        "top_provider": {"is_moderated": False},
        "pricing": {"prompt": "0"},
    }
    assert sdk_model(raw) == {
        "id": "a/b",
        "pricing": {"prompt": "0"},
        "topProvider": {"is_moderated": False},
    }

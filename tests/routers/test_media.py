"""Image generation, embeddings, the model catalog and key status in the legacy shapes,
with the gateway in-process and the mock as its upstream."""

import base64
import struct
import time

import httpx
import orjson
import pytest

from mock_openrouter.process import MockProcess
from mock_openrouter.testing import MockControl
from tests.factories import API_KEY, UPSTREAM_KEY, make_token
from tests.gateways import GatewayFactory, InProcessGateway, inprocess_client

ADMIN = {"x-api-key": API_KEY}


def upstream_bodies(journal: MockControl, path: str) -> list[str]:
    return [e["body"] for e in journal.requests() if e["path"] == path]


def test_case15_image_generation(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    body = {
        "model": "mock/image",
        "prompt": "A cat",
        "images": [{"url": "data:image/png;base64,AAA"}],
        "size": "1024x1024",
        "n": 2,
    }
    resp = client.post("/api/ai/image/generation", json=body, headers=user_headers)
    assert resp.status_code == 200
    assert resp.content == (
        b'{"images":[{"type":"imageUrl","imageUrl":"data:image/png;base64,iVBORw0KGgo="}],'
        b'"metadata":{"model":"mock/image","usage":{"promptTokens":12,"completionTokens":8,'
        b'"totalTokens":20}},"text":"Here is your image."}'
    )
    assert upstream_bodies(journal, "/api/v1/chat/completions") == [
        '{"model":"mock/image","messages":[{"role":"user","content":[{"type":"text",'
        '"text":"A cat"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAA"}}]}],'
        '"stream":false,"modalities":["text","image"]}'
    ]


def test_image_prompt_only_and_validation(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    resp = client.post(
        "/api/ai/image/generation",
        json={"model": "mock/image", "prompt": "A cat"},
        headers=user_headers,
    )
    assert resp.status_code == 200
    assert upstream_bodies(journal, "/api/v1/chat/completions")[0].startswith(
        '{"model":"mock/image","messages":[{"role":"user","content":"A cat"}],"stream":false'
    )
    bad = client.post("/api/ai/image/generation", json={"model": "g"}, headers=user_headers)
    assert bad.json() == {
        "error": "INVALID_INPUT",
        "message": "Validation error: Required",
        "statusCode": 400,
    }


def test_case16_embeddings_legacy_transcript(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    journal.enqueue(
        [{"scenario": "embeddings", "vector": "0.5,1,-0.25", "echo_model": True}],
        path="/api/v1/embeddings",
    )
    body = {
        "model": "openai/text-embedding-3-small",
        "input": ["a", "b"],
        "dimensions": 256,
        "user": "x",
    }
    resp = client.post("/api/ai/embeddings", json=body, headers=user_headers)
    assert resp.content == (
        b'{"object":"list","data":[{"object":"embedding","embedding":[0.5,1,-0.25],"index":0},'
        b'{"object":"embedding","embedding":[0.5,1,-0.25],"index":1}],"metadata":'
        b'{"model":"openai/text-embedding-3-small","usage":{"promptTokens":4,"totalTokens":4}}}'
    )
    assert upstream_bodies(journal, "/api/v1/embeddings") == [
        '{"model":"openai/text-embedding-3-small","input":["a","b"],"encoding_format":"float","dimensions":256}'
    ]


def test_base64_embeddings_are_encoded_here(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    as_floats = client.post(
        "/api/ai/embeddings", json={"model": "e", "input": "Hello"}, headers=user_headers
    ).json()
    as_b64 = client.post(
        "/api/ai/embeddings",
        json={"model": "e", "input": "Hello", "encoding_format": "base64"},
        headers=user_headers,
    ).json()
    vector = as_floats["data"][0]["embedding"]
    packed = base64.b64decode(as_b64["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(packed) // 4}f", packed)
    assert decoded == pytest.approx(vector, rel=1e-6)
    assert [
        orjson.loads(b)["encoding_format"] for b in upstream_bodies(journal, "/api/v1/embeddings")
    ] == ["float", "float"]


@pytest.mark.parametrize("model", ["mock/embeddings_empty", "mock/error?status=502"])
def test_empty_or_failed_embeddings_are_errors(
    client: httpx.Client, user_headers: dict[str, str], model: str
) -> None:
    resp = client.post(
        "/api/ai/embeddings", json={"model": model, "input": "x"}, headers=user_headers
    )
    assert resp.status_code == 502
    assert resp.json()["error"] == "AI_UPSTREAM_UNAVAILABLE"


def test_token_array_input_refused(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    resp = client.post(
        "/api/ai/embeddings", json={"model": "e", "input": [1, 2]}, headers=user_headers
    )
    assert resp.json()["message"] == "Validation error: Invalid input"
    assert journal.requests() == []


def test_admin_routes_need_an_admin(client: httpx.Client, user_headers: dict[str, str]) -> None:
    assert client.get("/api/ai/models", headers=user_headers).json() == {
        "error": "AUTH_UNAUTHORIZED",
        "message": "Admin access required",
        "statusCode": 403,
        "nextActions": "Check the admin token is valid or login as admin to get a new token.",
    }
    assert client.get("/api/ai/models").json()["message"] == "No admin token provided"
    anon = client.get("/api/ai/config", headers={"Authorization": "Bearer anon_test_key"})
    assert (
        anon.content == b'{"error":"AUTH_UNAUTHORIZED","message":"Invalid token","statusCode":401}'
    )
    admin_jwt = {"Authorization": f"Bearer {make_token('local:admin', role='project_admin')}"}
    assert client.get("/api/ai/config", headers=admin_jwt).status_code == 200


def test_key_status_is_masked_never_raw(client: httpx.Client) -> None:
    config = client.get("/api/ai/config", headers=ADMIN)
    assert config.json() == {
        "apiKey": {"configured": True, "maskedKey": "sk-or-v1••••••••3a9c"},
        "managementKey": {"configured": False},
    }
    legacy = client.get("/api/ai/openrouter/api-key", headers=ADMIN)
    assert legacy.json() == {"maskedKey": "sk-or-v1••••••••3a9c", "configured": True}
    for resp in (config, legacy):
        assert UPSTREAM_KEY not in resp.text
    assert (
        client.get("/api/ai/openai/api-key", headers=ADMIN).json()["message"]
        == "Unsupported AI provider: openai"
    )


@pytest.fixture
def short_cache(gateway_factory: GatewayFactory) -> InProcessGateway:
    return gateway_factory.inprocess(MODELS_CACHE_TTL_S="0.5")


def catalog_calls(journal: MockControl) -> list[str]:
    return [e["query"] for e in journal.requests() if e["path"] == "/api/v1/models"]


def test_catalog_cached_then_served_stale(
    short_cache: InProcessGateway, journal: MockControl
) -> None:
    with short_cache.client(headers=ADMIN) as c:
        first = c.get("/api/ai/models")
        assert first.status_code == 200
        models = first.json()
        assert [m["id"].split("/")[0] for m in models][:1] == ["openai"]
        assert all(
            set(m) >= {"id", "created", "modelId", "provider", "inputModality", "outputModality"}
            for m in models
        )
        assert any(m["outputModality"] == ["embeddings"] for m in models)  # output_modalities=all
        assert c.get("/api/ai/models").content == first.content
        assert catalog_calls(journal) == ["output_modalities=all"]
        journal.enqueue([{"scenario": "error", "status": 500}], path="/api/v1/models")
        time.sleep(0.6)
        stale = c.get("/api/ai/models")
        assert stale.status_code == 200
        assert stale.content == first.content
        assert len(catalog_calls(journal)) == 2


def test_catalog_unavailable_without_cache(mock: MockProcess, journal: MockControl) -> None:
    journal.enqueue([{"scenario": "error", "status": 500}], path="/api/v1/models")
    with inprocess_client(mock.base_url, headers=ADMIN) as c:
        resp = c.get("/api/ai/models")
        assert resp.status_code == 503
        assert resp.json()["error"] == "AI_UPSTREAM_UNAVAILABLE"
        # Within 5 s the breaker answers without calling the upstream again.
        assert c.get("/api/ai/models").status_code == 503
        assert len(catalog_calls(journal)) == 1

"""The mock's catalog reads beyond the model list: providers, a model's endpoints, and what the
model list holds for a gateway's filters (free, image input, image output)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_openrouter import MockProcess, start_mock
from mock_openrouter.payloads import PROVIDERS as CHAT_PROVIDERS

ENDPOINT_KEYS = {
    "name",
    "model_id",
    "model_name",
    "context_length",
    "pricing",
    "provider_name",
    "tag",
    "quantization",
    "max_completion_tokens",
    "max_prompt_tokens",
    "supported_parameters",
    "status",
    "uptime_last_30m",
    "uptime_last_5m",
    "uptime_last_1d",
    "supports_implicit_caching",
    "latency_last_30m",
    "throughput_last_30m",
}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    with start_mock(seed=5) as proc:
        yield proc


@pytest.fixture
def client(mock: MockProcess) -> Iterator[httpx.Client]:
    """No key: every read here is public, as upstream's are."""
    with httpx.Client(base_url=mock.base_url, timeout=10) as c:
        yield c


def catalog(client: httpx.Client, **query: str) -> list[dict[str, Any]]:
    response = client.get("/models", params={"output_modalities": "all", **query})
    assert response.status_code == 200
    models: list[dict[str, Any]] = response.json()["data"]
    return models


def test_providers(client: httpx.Client) -> None:
    response = client.get("/providers")
    assert response.status_code == 200
    providers = response.json()["data"]
    assert {"name": "OpenAI", "slug": "openai"}.items() <= providers[0].items()
    for provider in providers:
        assert set(provider) >= {
            "name",
            "slug",
            "privacy_policy_url",
            "terms_of_service_url",
            "status_page_url",
        }
        assert provider["privacy_policy_url"].startswith("https://")
    assert len({p["slug"] for p in providers}) == len(providers)


def test_endpoints_of_a_model(client: httpx.Client) -> None:
    model = next(m for m in catalog(client) if m["id"] == "openai/gpt-4o-mini")
    response = client.get("/models/openai/gpt-4o-mini/endpoints")
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == {"id", "name", "created", "description", "architecture", "endpoints"}
    assert (data["id"], data["name"], data["architecture"]) == (
        model["id"],
        model["name"],
        model["architecture"],
    )
    providers = {p["name"]: p["slug"] for p in client.get("/providers").json()["data"]}
    assert [e["provider_name"] for e in data["endpoints"]] == ["OpenAI", "Azure"]
    for endpoint in data["endpoints"]:
        assert set(endpoint) == ENDPOINT_KEYS
        assert endpoint["tag"] == providers[endpoint["provider_name"]]
        assert endpoint["pricing"] == {**model["pricing"], "discount": 0}
        assert endpoint["model_id"] == "openai/gpt-4o-mini"
        assert endpoint["status"] == 0
        assert set(endpoint["latency_last_30m"]) == {"p50", "p75", "p90", "p99"}


def test_every_catalog_model_has_endpoints(client: httpx.Client) -> None:
    providers = {p["name"] for p in client.get("/providers").json()["data"]}
    for model in catalog(client):
        response = client.get(f"/models/{model['id']}/endpoints")
        assert response.status_code == 200, model["id"]
        named = {e["provider_name"] for e in response.json()["data"]["endpoints"]}
        assert named
        assert named <= providers
    mock_text = client.get("/models/mock/text/endpoints").json()["data"]["endpoints"]
    assert {e["provider_name"] for e in mock_text} == set(CHAT_PROVIDERS)


@pytest.mark.parametrize(
    "path",
    ["/models/nobody/nothing/endpoints", "/models/mock/video/endpoints"],
)
def test_unknown_model_endpoints(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    model = path.removeprefix("/models/").removesuffix("/endpoints")
    assert response.json() == {"error": {"message": f"No endpoints found for {model}", "code": 404}}


def test_catalog_holds_what_gateway_filters_need(client: httpx.Client) -> None:
    models = catalog(client)
    free = [m["id"] for m in models if set(m["pricing"].values()) == {"0"}]
    assert free == ["meta-llama/llama-3.3-8b-instruct:free"]
    image_in = {m["id"] for m in models if "image" in m["architecture"]["input_modalities"]}
    image_out = {m["id"] for m in models if "image" in m["architecture"]["output_modalities"]}
    assert {"mock/image", "openai/gpt-4o-mini"} <= image_in
    assert {"mock/image", "google/gemini-2.5-flash-image"} <= image_out
    text_only = {m["id"] for m in models if m["architecture"]["input_modalities"] == ["text"]}
    assert "mock/text" in text_only


def test_upstream_modality_filters(client: httpx.Client) -> None:
    everything = catalog(client)
    image_in = catalog(client, input_modalities="image")
    assert 0 < len(image_in) < len(everything)
    assert all("image" in m["architecture"]["input_modalities"] for m in image_in)
    image_out = client.get("/models", params={"output_modalities": "image"}).json()["data"]
    assert all("image" in m["architecture"]["output_modalities"] for m in image_out)
    both = client.get("/models", params={"output_modalities": "image", "input_modalities": "image"})
    assert {m["id"] for m in both.json()["data"]} == {m["id"] for m in image_out} & {
        m["id"] for m in image_in
    }
    count = client.get("/models/count", params={"input_modalities": "image"}).json()
    text_and_image_in = client.get("/models", params={"input_modalities": "image"}).json()
    assert count["data"]["count"] == len(text_and_image_in["data"])

"""`/api/v1`'s catalog: the model list's filters, the account's list, and the allow-list over
every answer (app/v1/catalog.py). The models are the mock's catalog
(mock_openrouter/catalog.py)."""

from collections.abc import Iterator

import httpx
import openai
import pytest

from mock_openrouter.testing import MockControl
from tests.factories import make_token
from tests.gateways import GatewayFactory
from tests.procs import GatewayProcess

IMAGE_OUT = ["mock/image", "google/gemini-2.5-flash-image", "black-forest-labs/flux.2-pro"]


@pytest.fixture
def v1(gateway_factory: GatewayFactory, user_headers: dict[str, str]) -> Iterator[httpx.Client]:
    with gateway_factory.inprocess().client(headers=user_headers) as client:
        yield client


def ids(client: httpx.Client, path: str = "/api/v1/models", **query: str) -> list[str]:
    answer = client.get(path, params=query)
    assert answer.status_code == 200, answer.text
    return [m["id"] for m in answer.json()["data"]]


def test_free_means_every_price_zero(v1: httpx.Client) -> None:
    # FLUX's prompt and completion cost nothing, but each picture does: not free.
    assert ids(v1, free="true") == ["meta-llama/llama-3.3-8b-instruct:free"]
    everything = ids(v1)
    assert ids(v1, free="false") == [m for m in everything if not m.endswith(":free")]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {"input_modalities": "image"},
            [
                "mock/web",
                "mock/image",
                "openai/gpt-4o-mini",
                "google/gemini-2.5-flash-image",
                "black-forest-labs/flux.2-pro",
            ],
        ),
        ({"input_modalities": "image,file"}, ["openai/gpt-4o-mini"]),
        ({"output_modalities": "image"}, IMAGE_OUT),
        (
            {"output_modalities": "embeddings"},
            ["openai/text-embedding-3-small", "qwen/qwen3-embedding-8b"],
        ),
        ({"output_modalities": "image", "free": "false"}, IMAGE_OUT),
        ({"input_modalities": "text", "output_modalities": "image", "free": "true"}, []),
        ({"input_modalities": "video"}, []),
    ],
)
def test_modalities_come_from_the_architecture(
    v1: httpx.Client, query: dict[str, str], expected: list[str]
) -> None:
    assert ids(v1, **query) == expected


def test_all_is_no_filter(v1: httpx.Client) -> None:
    assert ids(v1, output_modalities="all") == ids(v1)
    assert len(ids(v1)) == 12


@pytest.mark.parametrize(
    "query",
    [{"input_modalities": "IMAGE"}, {"output_modalities": "image;text"}, {"input_modalities": ","}],
)
def test_a_filter_that_is_not_a_modality_list_is_refused(
    v1: httpx.Client, query: dict[str, str]
) -> None:
    answer = v1.get("/api/v1/models", params=query)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_filter"


def test_free_must_be_a_boolean(v1: httpx.Client) -> None:
    answer = v1.get("/api/v1/models", params={"free": "maybe"})
    assert answer.status_code == 400
    assert "error" in answer.json()


def test_the_allow_list_applies_to_every_list(
    gateway_factory: GatewayFactory, user_headers: dict[str, str]
) -> None:
    gateway = gateway_factory.inprocess(ALLOWED_MODELS="google/*,mock/image")
    with gateway.client(headers=user_headers) as client:
        assert ids(client) == ["mock/image", "google/gemini-2.5-flash-image"]
        assert ids(client, output_modalities="image") == ids(client)
        assert ids(client, free="true") == []
        assert ids(client, "/api/v1/models/user") == ["mock/image", "google/gemini-2.5-flash-image"]


def test_the_account_s_models_are_cached_and_filtered(
    v1: httpx.Client, control: MockControl
) -> None:
    first = ids(v1, "/api/v1/models/user")
    assert "openai/text-embedding-3-small" in first  # every modality, as /models
    assert ids(v1, "/api/v1/models/user", output_modalities="image") == IMAGE_OUT
    assert ids(v1, "/api/v1/models/user", free="true") == ["meta-llama/llama-3.3-8b-instruct:free"]
    asked = [e for e in control.requests() if e["path"] == "/api/v1/models/user"]
    assert len(asked) <= 1  # one fetch serves every caller and filter for an hour


def test_the_openai_sdk_lists_filtered_models(gateway: GatewayProcess) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=make_token("user-42"))
    with client:
        page = client.models.list(extra_query={"output_modalities": "image"})
        assert [m.id for m in page.data] == IMAGE_OUT
        assert [m.id for m in client.models.list(extra_query={"free": "true"})] == [
            "meta-llama/llama-3.3-8b-instruct:free"
        ]


def test_providers_pass_through_and_are_cached(v1: httpx.Client, control: MockControl) -> None:
    first = v1.get("/api/v1/providers")
    assert first.status_code == 200
    providers = first.json()["data"]
    assert {"name": "OpenAI", "slug": "openai"}.items() <= providers[0].items()
    assert v1.get("/api/v1/providers").json() == first.json()
    asked = [e for e in control.requests() if e["path"] == "/api/v1/providers"]
    assert len(asked) <= 1


def test_a_model_s_endpoints(v1: httpx.Client) -> None:
    answer = v1.get("/api/v1/models/openai/gpt-4o-mini/endpoints")
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert data["id"] == "openai/gpt-4o-mini"
    assert {e["provider_name"] for e in data["endpoints"]} >= {"OpenAI"}
    free = v1.get("/api/v1/models/meta-llama/llama-3.3-8b-instruct:free/endpoints")
    assert free.json()["data"]["id"] == "meta-llama/llama-3.3-8b-instruct:free"
    # Unknown upstream: OpenRouter's 404, in OpenAI's envelope.
    unknown = v1.get("/api/v1/models/nobody/nothing/endpoints")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "No endpoints found for nobody/nothing"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/models/openai/gpt-4o-mini/endpoints",  # not allowed on that gateway
        "/api/v1/models/google/%2e%2e/endpoints",  # not an id
        "/api/v1/models/google/a%20b/endpoints",
    ],
)
def test_endpoints_of_a_model_not_allowed_are_not_found_and_not_asked(
    gateway_factory: GatewayFactory, user_headers: dict[str, str], control: MockControl, path: str
) -> None:
    gateway = gateway_factory.inprocess(ALLOWED_MODELS="google/*,mock/image")
    with gateway.client(headers=user_headers) as client:
        answer = client.get(path)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "model_not_found"
    assert [e for e in control.requests() if e["path"].endswith("/endpoints")] == []

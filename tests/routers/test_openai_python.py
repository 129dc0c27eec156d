"""The official `openai` Python SDK against `/api/v1`, through the running gateway and the mock."""

import struct
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import orjson
import pytest

from mock_openrouter.testing import MockControl
from tests.factories import make_token
from tests.gateways import GatewayFactory
from tests.procs import GatewayProcess

HI: list[Any] = [{"role": "user", "content": "Hi"}]
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}


_clients: list[openai.OpenAI] = []


def sdk(gateway: GatewayProcess, token: str | None = None) -> openai.OpenAI:
    client = openai.OpenAI(
        base_url=f"{gateway.url}/api/v1", api_key=token or make_token("user-42"), max_retries=0
    )
    _clients.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    """Close each test's SDK clients, so no socket is left for the garbage collector."""
    yield
    while _clients:
        _clients.pop().close()


def chat_bodies(journal: MockControl) -> list[dict[str, Any]]:
    return [
        orjson.loads(e["body"])
        for e in journal.requests()
        if e["path"] == "/api/v1/chat/completions"
    ]


@pytest.fixture
def policy_gateway(gateway_factory: GatewayFactory) -> GatewayProcess:
    return gateway_factory(ALLOWED_MODELS="mock/*,openai/*", MAX_COMPLETION_TOKENS="1000")


def test_chat_passes_through_with_user_set(gateway: GatewayProcess, journal: MockControl) -> None:
    completion = sdk(gateway).chat.completions.create(
        model="mock/text", messages=HI, user="someone-else"
    )
    assert completion.choices[0].message.content == "Hello there!"
    assert completion.id.startswith("gen-")
    assert completion.usage is not None
    assert completion.usage.total_tokens == 20
    [sent] = chat_bodies(journal)
    assert sent["user"] == "user-42"
    assert sent["messages"] == HI


def test_untouched_fields_and_generation_id(gateway: GatewayProcess) -> None:
    raw = sdk(gateway).chat.completions.with_raw_response.create(
        model="mock/reasoning", messages=HI
    )
    body = orjson.loads(raw.http_response.content)
    assert raw.headers["x-generation-id"] == body["id"]
    message = body["choices"][0]["message"]
    assert message["reasoning_details"][-1].get("signature")
    assert "cost" in body["usage"]


def test_streaming_text_and_usage(gateway: GatewayProcess) -> None:
    chunks = list(sdk(gateway).chat.completions.create(model="mock/text", messages=HI, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello!"
    assert [c.usage.total_tokens for c in chunks if c.usage] == [20]


def test_streamed_tool_calls_reassembled_by_the_sdk(gateway: GatewayProcess) -> None:
    with sdk(gateway).chat.completions.stream(
        model="mock/tool?parallel=2", messages=HI, tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert len(calls) == 2
    for call in calls:
        assert isinstance(orjson.loads(call.function.arguments), dict)
    assert final.choices[0].finish_reason == "tool_calls"


def test_response_format_json_schema_passes_through(
    gateway: GatewayProcess, journal: MockControl
) -> None:
    schema: Any = {
        "type": "json_schema",
        "json_schema": {
            "name": "weather",
            "strict": True,
            "schema": {"type": "object", "properties": {"temp": {"type": "number"}}},
        },
    }
    sdk(gateway).chat.completions.create(
        model="mock/text",
        messages=HI,
        response_format=schema,
        seed=7,
        stop=["x"],
        extra_body={"provider": {"order": ["openai"]}, "models": ["mock/text", "openai/gpt-4o"]},
    )
    [sent] = chat_bodies(journal)
    assert sent["response_format"] == schema
    assert (sent["seed"], sent["stop"], sent["provider"]) == (7, ["x"], {"order": ["openai"]})
    assert sent["models"] == ["mock/text", "openai/gpt-4o"]


def test_embeddings_base64_default_gives_the_right_vectors(
    gateway: GatewayProcess, journal: MockControl
) -> None:
    client = sdk(gateway)
    via_sdk = client.embeddings.create(model="openai/text-embedding-3-small", input="Hello")
    floats = httpx.post(
        f"{gateway.url}/api/v1/embeddings",
        json={
            "model": "openai/text-embedding-3-small",
            "input": "Hello",
            "encoding_format": "float",
        },
        headers={"Authorization": f"Bearer {make_token()}"},
    ).json()["data"][0]["embedding"]
    assert via_sdk.data[0].embedding == pytest.approx(floats, rel=1e-6)
    assert len(floats) == 8
    packed = struct.pack("<8f", *via_sdk.data[0].embedding)
    assert len(packed) == 32
    sent = [
        orjson.loads(e["body"]) for e in journal.requests() if e["path"] == "/api/v1/embeddings"
    ]
    assert [b["encoding_format"] for b in sent] == ["float", "float"]


def test_refused_model_on_both_surfaces_without_upstream_call(
    policy_gateway: GatewayProcess, journal: MockControl
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(policy_gateway).chat.completions.create(
            model="anthropic/claude-3.7-sonnet", messages=HI
        )
    assert caught.value.code == "model_not_allowed"
    with pytest.raises(openai.BadRequestError):
        sdk(policy_gateway).chat.completions.create(
            model="mock/text", messages=HI, extra_body={"models": ["mock/text", "evil/model"]}
        )
    legacy = httpx.post(
        f"{policy_gateway.url}/api/ai/chat/completion",
        json={"model": "anthropic/claude-3.7-sonnet", "messages": HI},
        headers={"Authorization": f"Bearer {make_token()}"},
    )
    assert legacy.status_code == 400
    assert legacy.content == (
        b'{"error":"AI_INVALID_MODEL","message":"Model anthropic/claude-3.7-sonnet is not enabled. '
        b'Please contact your administrator to enable this model.","statusCode":400}'
    )
    assert journal.requests() == []
    listed = [m.id for m in sdk(policy_gateway).models.list()]
    assert listed
    assert all(m.startswith(("mock/", "openai/")) for m in listed)


def test_max_tokens_capped(policy_gateway: GatewayProcess, journal: MockControl) -> None:
    client = sdk(policy_gateway)
    client.chat.completions.create(model="mock/text", messages=HI, max_tokens=50_000)
    client.chat.completions.create(model="mock/text", messages=HI, max_completion_tokens=10)
    first, second = chat_bodies(journal)
    assert first["max_tokens"] == 1000
    assert second["max_completion_tokens"] == 10


def test_expired_token_is_authentication_error(gateway: GatewayProcess) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(gateway, make_token(expires_in=-5)).chat.completions.create(
            model="mock/text", messages=HI
        )
    assert caught.value.status_code == 401


@pytest.mark.parametrize("shape", ["A", "B", "C"])
def test_mid_stream_error_raises_in_the_sdk(gateway: GatewayProcess, shape: str) -> None:
    stream = sdk(gateway).chat.completions.create(
        model=f"mock/midstream_error?shape={shape}&after=2&code=502", messages=HI, stream=True
    )
    seen: list[str] = []

    def consume() -> None:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                seen.append(chunk.choices[0].delta.content)

    with pytest.raises(openai.APIError, match="Provider returned error"):
        consume()
    assert seen


def test_upstream_errors_keep_their_status(gateway: GatewayProcess) -> None:
    client = sdk(gateway)
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="mock/error?status=429&retry_after=0", messages=HI)
    assert limited.value.response.headers["retry-after"] == "0"
    with pytest.raises(openai.InternalServerError) as refused:
        client.chat.completions.create(model="mock/error?status=401", messages=HI)
    assert refused.value.status_code == 502  # the gateway's key, not the caller's
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="mock/error?status=400", messages=HI, stream=True)

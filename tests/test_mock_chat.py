"""The mock's chat surface: auth, non-stream and stream forms, tool calls, content scenarios."""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_openrouter import MockProcess, start_mock
from mock_openrouter.testing import MockControl, data_payloads, sse_blocks

GEN_ID = re.compile(r"^gen-\d+-[0-9A-Za-z]{20}$")
AUTH = {"Authorization": "Bearer sk-or-v1-test"}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    with start_mock(seed=1234) as proc:
        yield proc


@pytest.fixture
def client(mock: MockProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.base_url, headers=AUTH, timeout=10) as c:
        yield c


def chat(
    client: httpx.Client, model: str, stream: bool = False, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "stream": stream}
    return client.post("/chat/completions", json=body, headers=headers)


def chunks(response: httpx.Response) -> list[dict[str, Any]]:
    payloads = data_payloads(response.content)
    assert payloads[-1] == "[DONE]"
    return [json.loads(p) for p in payloads[:-1]]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Missing Authentication header"),
        ({"Authorization": ""}, "Missing Authentication header"),
        ({"Authorization": "Bearer"}, "Missing Authentication header"),
        ({"Authorization": "Bearer sk-or-invalid"}, "User not found."),
    ],
)
def test_auth_errors(mock: MockProcess, headers: dict[str, str], message: str) -> None:
    for path in ("/chat/completions", "/embeddings", "/key"):
        method = "GET" if path == "/key" else "POST"
        response = httpx.request(method, mock.base_url + path, headers=headers, json={"model": "x"})
        assert response.status_code == 401
        assert response.json() == {"error": {"message": message, "code": 401}}
        assert "x-generation-id" not in response.headers


def test_text_nonstream(client: httpx.Client) -> None:
    response = chat(client, "mock/text")
    assert response.status_code == 200
    assert "content-length" not in response.headers
    assert response.text.startswith("\n         \n")
    body = json.loads(response.text.strip())
    assert GEN_ID.match(body["id"])
    assert response.headers["x-generation-id"] == body["id"]
    assert body["model"] == "mock/text"
    assert body["choices"][0]["message"]["content"] == "Hello there!"
    assert body["choices"][0]["finish_reason"] == "stop"
    usage = body["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        12,
        8,
        20,
    )
    assert usage["is_byok"] is False
    assert usage["cost"] > 0


def test_nonstream_gzip_when_accepted(client: httpx.Client) -> None:
    gz = chat(client, "mock/text", headers={"Accept-Encoding": "gzip"})
    plain = chat(client, "mock/text", headers={"Accept-Encoding": "identity"})
    assert gz.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert (
        json.loads(gz.text)["choices"][0]["message"]
        == json.loads(plain.text)["choices"][0]["message"]
    )


@pytest.mark.parametrize("form", ["U0", "U1"])
@pytest.mark.parametrize("split", ["one_per_event", "coalesce", "split_mid_line"])
def test_text_stream_framing(client: httpx.Client, form: str, split: str) -> None:
    response = chat(client, f"mock/text?usage_form={form}&write_split={split}", stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = sse_blocks(response.content)
    assert blocks[0].comments == ["OPENROUTER PROCESSING"]
    events = chunks(response)
    assert all(e["id"] == response.headers["x-generation-id"] for e in events)
    with_usage = [e for e in events if "usage" in e]
    assert len(with_usage) == 1
    assert with_usage[0] is events[-1]
    assert (with_usage[0]["choices"] == []) == (form == "U0")
    deltas = [c["delta"] for e in events for c in e["choices"]]
    assert all(d["role"] == "assistant" for d in deltas)
    content_deltas = [e["choices"][0]["delta"]["content"] for e in events if e["choices"]]
    assert [c for c in content_deltas if c] == ["Hel", "lo!"]
    finishes = [e["choices"][0]["finish_reason"] for e in events if e["choices"]]
    assert finishes[-1] == "stop"


def test_stream_crlf_and_many_tokens(client: httpx.Client) -> None:
    response = chat(client, "mock/text?tokens=30&crlf=1&tpot_ms=0", stream=True)
    assert b"\r\n\r\n" in response.content
    assert b"\n\n" not in response.content.replace(b"\r\n", b"")
    events = chunks(response)
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert len(text.split()) == 30
    assert events[-1]["usage"]["completion_tokens"] == 30


def test_stream_split_mid_utf8(mock: MockProcess) -> None:
    model = "mock/text?text=héllo 世界&write_split=split_mid_utf8&split_pause_ms=30"
    body = {"model": model, "messages": [], "stream": True}
    pieces: list[bytes] = []
    with (
        httpx.Client(headers=AUTH) as c,
        c.stream("POST", mock.base_url + "/chat/completions", json=body) as response,
    ):
        pieces.extend(response.iter_raw())
    assert any(_cuts_utf8(piece) for piece in pieces)
    events = [json.loads(p) for p in data_payloads(b"".join(pieces))[:-1]]
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text == "héllo 世界"


def _cuts_utf8(piece: bytes) -> bool:
    try:
        piece.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def test_tool_call_stream_fragments(client: httpx.Client) -> None:
    events = chunks(chat(client, "mock/tool", stream=True))
    fragments = [
        tc
        for e in events
        if e["choices"]
        for tc in e["choices"][0]["delta"].get("tool_calls") or []
    ]
    assert fragments[0] == {
        "index": 0,
        "id": "call_abc123",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert all("id" not in f and "name" not in f["function"] for f in fragments[1:])
    assert "".join(f["function"]["arguments"] for f in fragments) == '{"city":"Tokyo"}'
    finishes = {e["choices"][0]["finish_reason"] for e in events if e["choices"]} - {None}
    assert finishes == {"tool_calls"}


def test_parallel_tool_calls_interleave(client: httpx.Client) -> None:
    events = chunks(chat(client, "mock/tool?parallel=2", stream=True))
    fragments = [
        tc
        for e in events
        if e["choices"]
        for tc in e["choices"][0]["delta"].get("tool_calls") or []
    ]
    assert [f["index"] for f in fragments] == [0, 1, 0, 1, 0, 1]
    args = {
        i: "".join(f["function"]["arguments"] for f in fragments if f["index"] == i) for i in (0, 1)
    }
    assert args == {0: '{"city":"Tokyo"}', 1: '{"city":"Paris"}'}


def test_tool_call_nonstream(client: httpx.Client) -> None:
    body = json.loads(chat(client, "mock/tool").text)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_abc123",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Tokyo"}'},
        }
    ]


def test_web_annotations(client: httpx.Client) -> None:
    message = json.loads(chat(client, "mock/web:thinking").text)["choices"][0]["message"]
    assert message["annotations"][0]["url_citation"]["end_index"] == 5
    events = chunks(chat(client, "mock/web:thinking", stream=True))
    assert events[0]["model"] == "mock/web:thinking"
    deltas = [e["choices"][0]["delta"] for e in events if e["choices"]]
    assert [d["content"] for d in deltas if d.get("content")] == ["News", "!"]
    annotated = [d for d in deltas if "annotations" in d]
    assert len(annotated) == 1
    assert annotated[0]["annotations"][0]["url_citation"]["end_index"] == 4


def test_image_and_large_image(client: httpx.Client) -> None:
    message = json.loads(chat(client, "mock/image").text)["choices"][0]["message"]
    assert message["content"] == "Here is your image."
    assert message["images"] == [
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
            "index": 0,
        }
    ]
    events = chunks(chat(client, "mock/image?bytes=2000000", stream=True))
    images = [
        d for e in events if e["choices"] for d in [e["choices"][0]["delta"]] if "images" in d
    ]
    assert len(images) == 1
    assert len(images[0]["images"][0]["image_url"]["url"]) > 2_000_000


def test_a_picture_is_a_png_a_browser_can_draw(client: httpx.Client) -> None:
    """`picture=1`: a whole PNG (every chunk's CRC checks, the pixels inflate to 64 rows of
    64 RGB pixels), for the browser example; the default stays the transcripts' stub."""
    message = json.loads(chat(client, "mock/image?picture=1").text)["choices"][0]["message"]
    url = message["images"][0]["image_url"]["url"]
    png = base64.b64decode(url.removeprefix("data:image/png;base64,"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks_seen, pixels = 8, [], b""
    while at < len(png):
        (size,) = struct.unpack(">I", png[at : at + 4])
        kind, data = png[at + 4 : at + 8], png[at + 8 : at + 8 + size]
        (crc,) = struct.unpack(">I", png[at + 8 + size : at + 12 + size])
        assert crc == zlib.crc32(kind + data)
        chunks_seen.append(kind)
        if kind == b"IHDR":
            assert struct.unpack(">IIBB", data[:10]) == (64, 64, 8, 2)
        if kind == b"IDAT":
            pixels = zlib.decompress(data)
        at += 12 + size
    assert chunks_seen == [b"IHDR", b"IDAT", b"IEND"]
    assert len(pixels) == 64 * (1 + 64 * 3)


def test_reasoning_signature_on_last_item(client: httpx.Client) -> None:
    message = json.loads(chat(client, "mock/reasoning").text)["choices"][0]["message"]
    assert message["content"] == ""
    assert message["reasoning"]
    assert "signature" in message["reasoning_details"][-1]
    events = chunks(chat(client, "mock/reasoning", stream=True))
    details = [
        d
        for e in events
        if e["choices"]
        for d in e["choices"][0]["delta"].get("reasoning_details", [])
    ]
    assert "signature" in details[-1]
    assert all("signature" not in d for d in details[:-1])


def test_header_scenario_beats_model(client: httpx.Client, control: MockControl) -> None:
    response = chat(client, "mock/text", headers={"X-Mock-Scenario": "tool"})
    assert json.loads(response.text)["choices"][0]["finish_reason"] == "tool_calls"
    entry = control.requests()[-1]
    assert (entry["scenario"], entry["scenario_source"]) == ("tool", "header")


def test_non_mock_model_is_text(client: httpx.Client) -> None:
    body = json.loads(chat(client, "openai/gpt-4o-mini").text)
    assert body["choices"][0]["message"]["content"] == "Hello there!"
    assert body["model"] == "openai/gpt-4o-mini"

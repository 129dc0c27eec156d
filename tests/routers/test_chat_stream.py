"""Legacy streaming, byte for byte with the captured transcripts of the legacy backend."""

import httpx
import orjson
import pytest

from mock_openrouter.testing import MockControl, data_payloads

PATH = "/api/ai/chat/completion"
USAGE = b'data: {"tokenUsage":{"promptTokens":12,"completionTokens":8,"totalTokens":20}}\n\n'
DONE = b'data: {"done":true}\n\n'


def stream(
    client: httpx.Client, headers: dict[str, str], model: str, **extra: object
) -> httpx.Response:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        **extra,
    }
    return client.post(PATH, json=body, headers=headers)


@pytest.mark.parametrize(
    "variant", ["", "?usage_form=U1", "?usage_form=U0&empty_first=1&comment_prob=1&provider=0"]
)
def test_text_transcript(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str], variant: str
) -> None:
    resp = stream(client, user_headers, "mock/text" + variant)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/event-stream"
    assert resp.headers["cache-control"] == "no-cache"
    assert resp.headers["x-accel-buffering"] == "no"
    assert resp.content == b'data: {"chunk":"Hel"}\n\ndata: {"chunk":"lo!"}\n\n' + USAGE + DONE
    [sent] = journal.requests()
    assert sent["body"] == (
        '{"model":"mock/text' + variant + '","messages":[{"role":"user","content":"Hi"}],'
        '"temperature":0.7,"max_tokens":4096,"stream":true,"stream_options":{"include_usage":true}}'
    )


@pytest.mark.parametrize("variant", ["", "?parallel=1&whole=1", "?write_split=split_mid_line"])
def test_tool_call_transcript(
    client: httpx.Client, user_headers: dict[str, str], variant: str
) -> None:
    resp = stream(client, user_headers, "mock/tool" + variant)
    assert (
        resp.content
        == USAGE
        + (
            b'data: {"tool_calls":[{"id":"call_abc123","type":"function","function":'
            b'{"name":"get_weather","arguments":"{\\"city\\":\\"Tokyo\\"}"}}]}\n\n'
        )
        + DONE
    )


def test_parallel_tool_calls_assembled_by_index(
    client: httpx.Client, user_headers: dict[str, str]
) -> None:
    payloads = data_payloads(stream(client, user_headers, "mock/tool?parallel=2").content)
    calls = orjson.loads(payloads[-2])["tool_calls"]
    assert [c["id"] for c in calls] == sorted(c["id"] for c in calls)
    assert len(calls) == 2
    for call in calls:
        assert isinstance(orjson.loads(call["function"]["arguments"]), dict)


def test_web_search_transcript(client: httpx.Client, user_headers: dict[str, str]) -> None:
    resp = stream(client, user_headers, "mock/web")
    assert resp.content == (
        b'data: {"chunk":"News"}\n\ndata: {"chunk":"!"}\n\n' + USAGE + b'data: {"annotations":'
        b'[{"type":"url_citation","urlCitation":{"url":"https://ex.com/a","title":"A",'
        b'"content":"snippet","startIndex":0,"endIndex":4}}]}\n\n' + DONE
    )


@pytest.mark.parametrize(
    "variant",
    [
        "write_split=split_mid_utf8&text=h%C3%A9llo+%E4%B8%96%E7%95%8C+%F0%9F%98%80",
        "crlf=1&text=h%C3%A9llo+%E4%B8%96%E7%95%8C+%F0%9F%98%80",
        "write_split=coalesce&comment_prob=1&text=h%C3%A9llo+%E4%B8%96%E7%95%8C+%F0%9F%98%80",
    ],
)
def test_framing_variants_reassemble(
    client: httpx.Client, user_headers: dict[str, str], variant: str
) -> None:
    payloads = [
        orjson.loads(p)
        for p in data_payloads(stream(client, user_headers, f"mock/text?{variant}").content)
    ]
    assert "".join(p.get("chunk", "") for p in payloads) == "héllo 世界 😀"
    assert payloads[-1] == {"done": True}
    assert sum(1 for p in payloads if "tokenUsage" in p) == 1


def test_multi_megabyte_image_event(client: httpx.Client, user_headers: dict[str, str]) -> None:
    payloads = data_payloads(stream(client, user_headers, "mock/image?bytes=3000000").content)
    assert orjson.loads(payloads[-1]) == {"done": True}
    assert orjson.loads(payloads[0]) == {"chunk": "Here is your image."} or "chunk" in payloads[0]


def test_validation_error_is_plain_400(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    resp = stream(client, user_headers, "mock/text", temperature=9)
    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/json; charset=utf-8"
    assert resp.json()["error"] == "INVALID_INPUT"
    assert journal.requests() == []


def test_tool_message_without_id_is_an_event(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    body = {"model": "m", "stream": True, "messages": [{"role": "tool", "content": "x"}]}
    resp = client.post(PATH, json=body, headers=user_headers)
    assert resp.status_code == 200
    assert (
        resp.content
        == b'data: {"error":true,"message":"Tool message is missing required tool_call_id"}\n\n'
    )
    assert journal.requests() == []


@pytest.mark.parametrize(
    ("model", "message", "attempts"),
    [
        (
            "mock/error?status=401",
            "AI provider authentication failed. Check your API key configuration.",
            1,
        ),
        ("mock/error?status=402", "AI credit limit reached.", 1),
        (
            "mock/error?status=429&retry_after=0",
            "AI provider rate limit exceeded. Please wait before retrying.",
            3,
        ),
        ("mock/error?status=400&message=Bad+thing", "400 Bad thing", 1),
        ("mock/error?status=503", "503 Service temporarily unavailable", 3),
    ],
)
def test_errors_before_the_stream_are_one_event(
    client: httpx.Client,
    journal: MockControl,
    user_headers: dict[str, str],
    model: str,
    message: str,
    attempts: int,
) -> None:
    resp = stream(client, user_headers, model)
    assert resp.status_code == 200
    assert resp.content == b"data: " + orjson.dumps({"error": True, "message": message}) + b"\n\n"
    assert len(journal.requests()) == attempts

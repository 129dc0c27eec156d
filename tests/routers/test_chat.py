"""`POST /api/ai/chat/completion` through the running gateway against the mock process.

Each case asserts the exact client-visible bytes and the exact upstream body from the journal.
"""

from typing import Any

import httpx
import orjson
import pytest

from mock_openrouter.testing import MockControl
from tests.factories import UPSTREAM_KEY

PATH = "/api/ai/chat/completion"
USAGE = b'"usage":{"promptTokens":12,"completionTokens":8,"totalTokens":20}'


def post(client: httpx.Client, headers: dict[str, str], body: bytes) -> httpx.Response:
    return client.post(
        PATH, content=body, headers={**headers, "Content-Type": "application/json;charset=UTF-8"}
    )


def only_upstream(journal: MockControl) -> dict[str, Any]:
    entries = [e for e in journal.requests() if e["path"] == "/api/v1/chat/completions"]
    assert len(entries) == 1, entries
    return entries[0]


def test_case1_basic(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    resp = post(
        client, user_headers, b'{"model":"mock/text","messages":[{"role":"user","content":"Hi"}]}'
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json; charset=utf-8"
    assert (
        resp.content == b'{"text":"Hello there!","metadata":{"model":"mock/text",' + USAGE + b"}}"
    )
    sent = only_upstream(journal)
    assert sent["body"] == (
        '{"model":"mock/text","messages":[{"role":"user","content":"Hi"}],'
        '"temperature":0.7,"max_tokens":4096,"stream":false}'
    )
    headers = sent["headers"]
    assert headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert headers["http-referer"] == "https://insforge.dev"
    assert headers["x-openrouter-title"] == headers["x-title"] == "InsForge"
    assert user_headers["Authorization"] not in str(headers)
    assert resp.headers["x-generation-id"].startswith("gen-")
    assert UPSTREAM_KEY not in resp.text


def test_every_option(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    body = (
        b'{"model":"mock/web","messages":[{"role":"system","content":"Be brief."},{"role":"user",'
        b'"content":[{"type":"text","text":"Latest news?","cache_control":{"type":"ephemeral"}},'
        b'{"type":"image_url","image_url":{"url":"https://ex.com/i.png","detail":"low"}}]}],'
        b'"temperature":0.2,"maxTokens":256,"topP":0.9,"webSearch":{"enabled":true,"engine":"exa",'
        b'"maxResults":3,"searchPrompt":"Use these:"},"fileParser":{"enabled":true,"pdf":'
        b'{"engine":"pdf-text"}},"thinking":true,"tools":[{"type":"function","function":'
        b'{"name":"get_weather","description":"Get weather","parameters":{"type":"object",'
        b'"properties":{"city":{"type":"string"}},"required":["city"]}}}],"toolChoice":"auto",'
        b'"parallelToolCalls":false}'
    )
    resp = post(client, user_headers, body)
    assert resp.status_code == 200, resp.text
    assert resp.content == (
        b'{"text":"Hello there!","annotations":[{"type":"url_citation","urlCitation":'
        b'{"url":"https://ex.com/a","title":"A","content":"snippet","startIndex":0,"endIndex":5}}],'
        b'"metadata":{"model":"mock/web:thinking",' + USAGE + b"}}"
    )
    assert only_upstream(journal)["body"] == (
        '{"model":"mock/web:thinking","messages":[{"role":"system","content":"Be brief."},'
        '{"role":"user","content":[{"type":"text","text":"Latest news?"},{"type":"image_url",'
        '"image_url":{"url":"https://ex.com/i.png","detail":"low"}}]}],"temperature":0.2,'
        '"max_tokens":256,"top_p":0.9,"stream":false,"plugins":[{"id":"web","engine":"exa",'
        '"max_results":3,"search_prompt":"Use these:"},{"id":"file-parser","pdf":'
        '{"engine":"pdf-text"}}],"tools":[{"type":"function","function":{"name":"get_weather",'
        '"description":"Get weather","parameters":{"type":"object","properties":{"city":'
        '{"type":"string"}},"required":["city"]}}}],"tool_choice":"auto",'
        '"parallel_tool_calls":false}'
    )


def test_tool_call_answer(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    resp = post(
        client,
        user_headers,
        b'{"model":"mock/tool","messages":[{"role":"user","content":"Weather?"}]}',
    )
    assert resp.content == (
        b'{"text":"","tool_calls":[{"id":"call_abc123","type":"function","function":'
        b'{"name":"get_weather","arguments":"{\\"city\\":\\"Tokyo\\"}"}}],'
        b'"metadata":{"model":"mock/tool",' + USAGE + b"}}"
    )
    assert len(journal.requests()) == 1


def test_validation_error_makes_no_upstream_call(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    resp = post(client, user_headers, b'{"model":"mock/text","messages":[],"temperature":5}')
    assert resp.status_code == 400
    assert resp.content == (
        b'{"error":"INVALID_INPUT","message":"Validation error: Number must be less than or '
        b'equal to 2","statusCode":400}'
    )
    resp = post(client, user_headers, b'{"model":"m","messages":[{"role":"tool","content":"x"}]}')
    assert resp.content == (
        b'{"error":"INVALID_INPUT","message":"Tool message is missing required tool_call_id",'
        b'"statusCode":400}'
    )
    resp = post(client, user_headers, b'{"model":')
    assert resp.json() == {
        "error": "INVALID_INPUT",
        "message": "Unexpected end of JSON input",
        "statusCode": 400,
        "nextActions": "Please ensure your request body contains valid JSON",
    }
    assert journal.requests() == []


def test_non_ascii_passes_raw(
    client: httpx.Client, journal: MockControl, user_headers: dict[str, str]
) -> None:
    resp = post(
        client,
        user_headers,
        '{"model":"mock/text","messages":[{"role":"user","content":"héllo 世界"}]}'.encode(),
    )
    assert resp.status_code == 200
    assert '"content":"héllo 世界"' in only_upstream(journal)["body"]


@pytest.mark.parametrize(
    "path",
    [
        "//api/ai/chat/completion",
        "/prefix//api/ai/chat/completion",
        "/prefix/api/ai/chat/completion",
    ],
)
def test_sdk_url_joining_is_tolerated(
    client: httpx.Client, user_headers: dict[str, str], path: str
) -> None:
    resp = client.post(
        str(client.base_url).rstrip("/") + path,
        json={"model": "mock/text", "messages": [{"role": "user", "content": "Hi"}]},
        headers=user_headers,
    )
    assert resp.status_code == 200
    assert orjson.loads(resp.content)["text"] == "Hello there!"


def test_unknown_route_is_legacy_404(client: httpx.Client) -> None:
    resp = client.get("/api/ai/nothing-here")
    assert resp.status_code == 404
    assert resp.content == (
        b'{"error":"NOT_FOUND","message":"Endpoint /api/ai/nothing-here not found",'
        b'"statusCode":404,'
        b'"nextActions":"Please check the API documentation for available endpoints"}'
    )

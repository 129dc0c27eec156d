"""Unit tests of the pure legacy ⇄ upstream translation, rule by rule as the legacy API had them."""

import orjson
import pytest

from app.errors import InvalidInputError
from app.legacy.schemas import ChatCompletionRequest
from app.legacy.translate import from_upstream_chat, to_upstream_chat

CAP = 16384


def upstream_bytes(body: bytes, cap: int = CAP) -> bytes:
    chat = ChatCompletionRequest.model_validate_json(body, context={"max_completion_tokens": cap})
    return orjson.dumps(to_upstream_chat(chat, max_tokens_cap=cap))


def test_case1_basic_defaults() -> None:
    got = upstream_bytes(b'{"model":"m","messages":[{"role":"user","content":"Hi"}]}')
    assert got == (
        b'{"model":"m","messages":[{"role":"user","content":"Hi"}],'
        b'"temperature":0.7,"max_tokens":4096,"stream":false}'
    )


def test_case2_zero_temperature_kept_and_camel_renamed() -> None:
    got = upstream_bytes(b'{"model":"m","messages":[],"temperature":0,"topP":0.9,"maxTokens":256}')
    assert got == (
        b'{"model":"m","messages":[],"temperature":0,"max_tokens":256,"top_p":0.9,"stream":false}'
    )


def test_default_max_tokens_capped_by_setting() -> None:
    got = orjson.loads(upstream_bytes(b'{"model":"m","messages":[]}', cap=1000))
    assert got["max_tokens"] == 1000


@pytest.mark.parametrize(
    ("model", "thinking", "expected"),
    [
        ("anthropic/claude-3.7-sonnet", "true", "anthropic/claude-3.7-sonnet:thinking"),
        ("anthropic/claude-3.7-sonnet:thinking", "true", "anthropic/claude-3.7-sonnet:thinking"),
        ("anthropic/claude-3.7-sonnet", "false", "anthropic/claude-3.7-sonnet"),
    ],
)
def test_case3_thinking_suffix(model: str, thinking: str, expected: str) -> None:
    raw = f'{{"model":"{model}","messages":[],"thinking":{thinking}}}'.encode()
    body = orjson.loads(upstream_bytes(raw))
    assert body["model"] == expected
    answer = {"choices": [{"message": {"content": "x"}}]}
    assert from_upstream_chat(answer, body["model"])["metadata"] == {"model": expected}


@pytest.mark.parametrize(
    ("options", "plugins"),
    [
        (
            '"webSearch":{"enabled":true,"engine":"exa","maxResults":3,"searchPrompt":"P"},'
            '"fileParser":{"enabled":true,"pdf":{"engine":"mistral-ocr"}}',
            b'"plugins":[{"id":"web","engine":"exa","max_results":3,"search_prompt":"P"},'
            b'{"id":"file-parser","pdf":{"engine":"mistral-ocr"}}]',
        ),
        ('"webSearch":{"enabled":false,"engine":"exa"}', None),
        ('"fileParser":{"enabled":true}', b'"plugins":[{"id":"file-parser"}]'),
        ('"webSearch":{"enabled":true,"searchPrompt":""}', b'"plugins":[{"id":"web"}]'),
    ],
)
def test_case4_plugins(options: str, plugins: bytes | None) -> None:
    got = upstream_bytes(f'{{"model":"m","messages":[],{options}}}'.encode())
    if plugins is None:
        assert b"plugins" not in got
    else:
        assert got.endswith(b'"stream":false,' + plugins + b"}")


def test_case5_annotations_camel_cased() -> None:
    answer = {
        "choices": [
            {
                "message": {
                    "content": "Hello there!",
                    "annotations": [
                        {
                            "type": "url_citation",
                            "url_citation": {
                                "url": "https://ex.com/a",
                                "title": "A",
                                "content": "snippet",
                                "start_index": 0,
                                "end_index": 5,
                            },
                        },
                        {"type": "file", "file": {"name": "x.pdf"}},
                    ],
                }
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20, "cost": 1e-5},
    }
    assert orjson.dumps(from_upstream_chat(answer, "mock/web:thinking")) == (
        b'{"text":"Hello there!","annotations":[{"type":"url_citation","urlCitation":'
        b'{"url":"https://ex.com/a","title":"A","content":"snippet","startIndex":0,"endIndex":5}}],'
        b'"metadata":{"model":"mock/web:thinking","usage":'
        b'{"promptTokens":12,"completionTokens":8,"totalTokens":20}}}'
    )


def test_case6_tools_forwarded_and_tool_call_answer() -> None:
    got = upstream_bytes(
        b'{"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"f",'
        b'"parameters":{"type":"object"},"strict":true}}],'
        b'"toolChoice":{"type":"function","function":{"name":"f"}},"parallelToolCalls":false}'
    )
    assert got.endswith(
        b'"stream":false,"tools":[{"type":"function","function":{"name":"f",'
        b'"parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":'
        b'{"name":"f"}},"parallel_tool_calls":false}'
    )
    call = {
        "index": 0,
        "id": "call_abc123",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Tokyo"}'},
    }
    answer = {"choices": [{"message": {"content": None, "tool_calls": [call]}}]}
    assert orjson.dumps(from_upstream_chat(answer, "mock/tool")) == (
        b'{"text":"","tool_calls":[{"id":"call_abc123","type":"function","function":'
        b'{"name":"get_weather","arguments":"{\\"city\\":\\"Tokyo\\"}"}}],'
        b'"metadata":{"model":"mock/tool"}}'
    )


CASE7_MESSAGES = b"""[{"role":"user","content":"Weather in Tokyo?"},
 {"role":"assistant","content":null,"tool_calls":[{"id":"call_abc123","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Tokyo\\"}"},"index":0}]},
 {"role":"tool","content":"{\\"temp\\":\\"22C\\"}","tool_call_id":"call_abc123"},
 {"role":"tool","content":[{"type":"text","text":"x"}],"tool_call_id":"call_2"},
 {"role":"assistant","content":"plain","name":"bob"},
 {"role":"user","content":"Look","images":[{"url":"data:image/png;base64,AAA"}]},
 {"role":"user","content":[{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}},{"type":"file","file":{"filename":"doc.pdf","file_data":"https://ex.com/doc.pdf"}}]},
 {"role":"tool","content":null,"tool_call_id":"c3"},
 {"role":"assistant"},
 {"role":"user","content":"u","tool_calls":[],"tool_call_id":"dropped"}]"""

CASE7_UPSTREAM = b"""[{"role":"user","content":"Weather in Tokyo?"},
 {"role":"assistant","content":null,"tool_calls":[{"id":"call_abc123","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Tokyo\\"}"}}]},
 {"role":"tool","content":"{\\"temp\\":\\"22C\\"}","tool_call_id":"call_abc123"},
 {"role":"tool","content":"[{\\"type\\":\\"text\\",\\"text\\":\\"x\\"}]","tool_call_id":"call_2"},
 {"role":"assistant","content":"plain"},
 {"role":"user","content":[{"type":"text","text":"Look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAA"}}]},
 {"role":"user","content":[{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}},{"type":"file","file":{"filename":"doc.pdf","file_data":"https://ex.com/doc.pdf"}}]},
 {"role":"tool","content":"null","tool_call_id":"c3"},
 {"role":"assistant"},
 {"role":"user","content":"u"}]"""


def test_case7_message_formatting() -> None:
    got = orjson.loads(upstream_bytes(b'{"model":"m","messages":' + CASE7_MESSAGES + b"}"))
    assert orjson.dumps(got["messages"]) == orjson.dumps(orjson.loads(CASE7_UPSTREAM))


def test_case8_tool_message_without_id_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        upstream_bytes(b'{"model":"m","messages":[{"role":"tool","content":"x"}]}')
    assert caught.value.message == "Tool message is missing required tool_call_id"
    assert caught.value.status_code == 400


def test_case17_unknown_model_forwarded_unchanged() -> None:
    got = orjson.loads(upstream_bytes(b'{"model":"nobody/knows-this:free","messages":[]}'))
    assert got["model"] == "nobody/knows-this:free"


def test_every_option_matches_contract_4d() -> None:
    client = (
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
    assert upstream_bytes(client) == (
        b'{"model":"mock/web:thinking","messages":[{"role":"system","content":"Be brief."},'
        b'{"role":"user","content":[{"type":"text","text":"Latest news?"},{"type":"image_url",'
        b'"image_url":{"url":"https://ex.com/i.png","detail":"low"}}]}],"temperature":0.2,'
        b'"max_tokens":256,"top_p":0.9,"stream":false,"plugins":[{"id":"web","engine":"exa",'
        b'"max_results":3,"search_prompt":"Use these:"},{"id":"file-parser","pdf":'
        b'{"engine":"pdf-text"}}],"tools":[{"type":"function","function":{"name":"get_weather",'
        b'"description":"Get weather","parameters":{"type":"object","properties":{"city":'
        b'{"type":"string"}},"required":["city"]}}}],"tool_choice":"auto",'
        b'"parallel_tool_calls":false}'
    )


def test_stream_adds_stream_options() -> None:
    got = upstream_bytes(b'{"model":"m","messages":[],"stream":true}')
    assert got.endswith(b'"stream":true,"stream_options":{"include_usage":true}}')


def test_response_without_usage_and_non_ascii_raw() -> None:
    answer = {"choices": [{"message": {"content": "héllo 世界 /"}}]}
    assert orjson.dumps(from_upstream_chat(answer, "m")) == (
        '{"text":"héllo 世界 /","metadata":{"model":"m"}}'.encode()
    )

"""The legacy schema answers with zod's exact messages, as the legacy backend's zod schemas did."""

import pytest

from app.errors import InvalidInputError
from app.legacy.body import parse_body
from app.legacy.schemas import ChatCompletionRequest

JSON = "application/json;charset=UTF-8"
CTX: dict[str, object] = {"max_completion_tokens": 16384}


def message_for(raw: bytes, content_type: str | None = JSON) -> str:
    with pytest.raises(InvalidInputError) as caught:
        parse_body(ChatCompletionRequest, raw, content_type, CTX)
    assert caught.value.status_code == 400
    assert caught.value.code == "INVALID_INPUT"
    return caught.value.message


M = b'"model":"m","messages":[]'


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"messages":[]}', "Required"),
        (b"{" + M + b',"temperature":3}', "Number must be less than or equal to 2"),
        (b"{" + M + b',"temperature":5}', "Number must be less than or equal to 2"),
        (b"{" + M + b',"maxTokens":16385}', "Exceeds configured maximum token cap."),
        (b"{" + M + b',"maxTokens":10.5}', "Expected integer, received float"),
        (b"{" + M + b',"maxTokens":0}', "Number must be greater than 0"),
        (b"{" + M + b',"topP":2}', "Number must be less than or equal to 1"),
        (
            b'{"model":"m","messages":[{"role":"user"}]}',
            "content is required for user messages",
        ),
        (
            b'{"model":"m","messages":[{"role":"developer","content":"x"}]}',
            "Invalid enum value. Expected 'user' | 'assistant' | 'system' | 'tool', "
            "received 'developer'",
        ),
        (b'{"model":"m","messages":[{"role":"user","content":[{"type":"x"}]}]}', "Invalid input"),
        (
            b'{"model":"m","messages":[{"role":"user","content":[{"type":"image_url",'
            b'"image_url":"https://ex.com/i.png"}]}]}',
            "Invalid input",
        ),
        (b"{" + M + b',"toolChoice":"sometimes"}', "Invalid input"),
        (b"{" + M + b',"stream":"true"}', "Expected boolean, received string"),
        (b"{" + M + b',"temperature":null}', "Expected number, received null"),
        (b"[]", "Expected object, received array"),
        (
            b'{"temperature":-1,"messages":"x"}',
            "Required, Expected array, received string, Number must be greater than or equal to 0",
        ),
    ],
)
def test_zod_messages(raw: bytes, expected: str) -> None:
    assert message_for(raw) == f"Validation error: {expected}"


def test_non_json_content_type_reads_as_empty_object() -> None:
    assert message_for(b"model=m", "text/plain") == "Validation error: Required, Required"
    assert message_for(b"", JSON) == "Validation error: Required, Required"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"model":', "Unexpected end of JSON input"),
        (b'{"model" "m"}', "Unexpected token '\"' in JSON at position 9"),
        (b'"just a string"', "Unexpected token '\"' in JSON at position 0"),
    ],
)
def test_malformed_json(raw: bytes, expected: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_body(ChatCompletionRequest, raw, JSON, CTX)
    assert caught.value.message == expected
    assert caught.value.next_actions == "Please ensure your request body contains valid JSON"


def test_unknown_keys_stripped_at_every_level() -> None:
    chat = parse_body(
        ChatCompletionRequest,
        b'{"model":"m","extra":1,"messages":[{"role":"user","content":"x","name":"n"}],'
        b'"tools":[{"type":"function","function":{"name":"f","strict":true}}]}',
        JSON,
        CTX,
    )
    dumped = chat.model_dump(exclude_unset=True, by_alias=True)
    assert dumped == {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }


def test_assistant_may_omit_content_and_null_is_allowed_for_all() -> None:
    chat = parse_body(
        ChatCompletionRequest,
        b'{"model":"","messages":[{"role":"assistant"},{"role":"user","content":null}]}',
        JSON,
        CTX,
    )
    assert [m.role for m in chat.messages] == ["assistant", "user"]

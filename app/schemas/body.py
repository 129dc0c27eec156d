"""Read a legacy request body the way the legacy backend's `express.json()` + zod did.

A non-JSON content type or an empty body is `{}` (so a missing body reads "Required, Required");
the top level must be an object or array; bad JSON is a 400 with a JSON.parse-style message.
"""

from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from app.errors import InvalidInputError
from app.schemas.zod import zod_messages

M = TypeVar("M", bound=BaseModel)

JSON_HINT = "Please ensure your request body contains valid JSON"
_WHITESPACE = b" \t\r\n"


def _is_json_type(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def json_syntax_message(raw: bytes) -> str:
    text = raw.strip(_WHITESPACE)
    if not text:
        return "Unexpected end of JSON input"
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError as err:
        if err.pos >= len(text):
            return "Unexpected end of JSON input"
        char = text[err.pos : err.pos + 1].decode("utf-8", "replace")
        return f"Unexpected token '{char}' in JSON at position {err.pos}"
    first = text[:1].decode("utf-8", "replace")
    return f"Unexpected token '{first}' in JSON at position 0"


def parse_body(
    model: type[M], raw: bytes, content_type: str | None, context: dict[str, object]
) -> M:
    if not _is_json_type(content_type) or not raw.strip(_WHITESPACE):
        raw = b"{}"
    elif raw.lstrip(_WHITESPACE)[:1] not in (b"{", b"["):
        # body-parser's strict mode: only objects and arrays at the top level.
        raise InvalidInputError(json_syntax_message(raw), next_actions=JSON_HINT)
    try:
        return model.model_validate_json(raw, context=context)
    except ValidationError as err:
        errors = err.errors(include_url=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise InvalidInputError(json_syntax_message(raw), next_actions=JSON_HINT) from None
        raise InvalidInputError("Validation error: " + zod_messages(errors)) from None

"""Read a legacy request body the way the legacy backend's `express.json()` + zod did.

A non-JSON content type or an empty body is `{}` (so a missing body reads "Required, Required");
the top level must be an object or array; bad JSON is a 400 with a JSON.parse-style message; a
body too deep or too large for `app/json_shape.py` is a 400 that says so. The body is parsed by
orjson first and validated second, so its shape is bounded before pydantic walks it.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from app.errors import InvalidInputError
from app.json_shape import JsonShapeError, check_shape, loads
from app.legacy.validation import zod_messages

if TYPE_CHECKING:
    from app.pipeline import Call

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


def load_body(raw: bytes, content_type: str | None, *, max_depth: int, max_items: int) -> Any:
    """The parsed body (`{}` when it is not JSON), its shape bounded (app/json_shape.py)."""
    if not _is_json_type(content_type) or not raw.strip(_WHITESPACE):
        return {}
    if raw.lstrip(_WHITESPACE)[:1] not in (b"{", b"["):
        # body-parser's strict mode: only objects and arrays at the top level.
        raise InvalidInputError(json_syntax_message(raw), next_actions=JSON_HINT)
    try:
        body = loads(raw, max_depth)
        check_shape(body, max_depth=max_depth, max_items=max_items)
    except JsonShapeError as err:
        raise InvalidInputError(err.message, next_actions=err.next_actions) from None
    except orjson.JSONDecodeError:
        raise InvalidInputError(json_syntax_message(raw), next_actions=JSON_HINT) from None
    return body


def validate_body(model: type[M], body: Any, context: dict[str, object]) -> M:
    try:
        return model.model_validate(body, context=context)
    except ValidationError as err:
        message = "Validation error: " + zod_messages(err.errors(include_url=False))
        raise InvalidInputError(message) from None


def parse_body(
    model: type[M],
    raw: bytes,
    content_type: str | None,
    context: dict[str, object],
    *,
    max_depth: int = 64,
    max_items: int = 20_000,
) -> M:
    body = load_body(raw, content_type, max_depth=max_depth, max_items=max_items)
    return validate_body(model, body, context)


def read_legacy(call: "Call", model: type[M], precheck: Callable[[Any], None] | None = None) -> M:
    """Parse, bound and validate a call's legacy body; `precheck` sees the parsed body first, so
    a count limit refuses a huge array before pydantic validates (and reports on) every item."""
    settings = call.gateway.settings
    body = load_body(
        call.take_body(),
        call.content_type,
        max_depth=settings.max_json_depth,
        max_items=settings.max_json_items,
    )
    if precheck is not None:
        precheck(body)
    return validate_body(model, body, {"max_completion_tokens": settings.max_completion_tokens})

"""Validation that answers like the legacy backend's zod schemas (the messages pinned by
tests/test_validation.py).

The InsForge SDK shows `message` to users and apps match on it, so errors must read exactly like
zod's: "Required", "Expected number, received null", "Number must be less than or equal to 2",
"Invalid input" for a failed union, issues joined by ", " in schema-key order. Pydantic does the
walking; the field types below raise zod's wording, and `zod_messages` renders what is left.
JSON numbers are printed the way JavaScript prints them.

A plain validator is "any" to pydantic's JSON schema, so each one also names the JSON schema it
accepts (`json_schema_input_type`): `/openapi.json` documents these models (app/openapi.py).
That is documentation only; validation never reads it.
"""

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import (
    PlainValidator,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from app.legacy.js import js_number

T = TypeVar("T")

# A hostile body can fail validation a thousand times over; the answer stays small. zod would list
# every issue: bodies with more than this many differ from the legacy wording, no others do.
MAX_ISSUES = 20
# zod quotes a refused enum value whole; one that long is never a typo worth echoing in full.
MAX_QUOTED_CHARS = 100
# orjson writes integers of at most 64 bits: a larger integral number (1e21 parses as a float)
# stays a float, which JSON.stringify writes the same way, rather than fail the request.
MAX_JSON_INT = 2**63


def js_type(value: object) -> str:
    """zod's name for the parsed type of a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def issue(message: str) -> PydanticCustomError:
    return PydanticCustomError("zod", message)


def _expect(value: object, expected: str) -> None:
    if js_type(value) != expected:
        raise issue(f"Expected {expected}, received {js_type(value)}")


def _string(value: object) -> str:
    _expect(value, "string")
    assert isinstance(value, str)
    return value


def boolean(value: object) -> bool:
    _expect(value, "boolean")
    assert isinstance(value, bool)
    return value


def number(
    *,
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
    integer: bool = False,
) -> Callable[[object], float]:
    def check(value: object) -> float:
        _expect(value, "number")
        assert isinstance(value, int | float)
        problems = []
        if integer and not float(value).is_integer():
            problems.append("Expected integer, received float")
        if gt is not None and not value > gt:
            problems.append(f"Number must be greater than {js_number(gt)}")
        if ge is not None and not value >= ge:
            problems.append(f"Number must be greater than or equal to {js_number(ge)}")
        if le is not None and not value <= le:
            problems.append(f"Number must be less than or equal to {js_number(le)}")
        if problems:
            raise issue(", ".join(problems))
        if integer and abs(value) < MAX_JSON_INT:
            return int(value)
        return value

    return check


def _max_tokens(value: object, info: ValidationInfo) -> int:
    # zod runs the cap refinement even after a non-fatal int/positive issue, so it is
    # reported alongside them in one pass.
    cap = (info.context or {}).get("max_completion_tokens")
    problems: list[str] = []
    try:
        result = number(gt=0, integer=True)(value)
    except PydanticCustomError as err:
        if js_type(value) != "number":
            raise
        problems.append(err.message())
        result = value  # type: ignore[assignment]
    if cap is not None and isinstance(result, int | float) and result > cap:
        problems.append("Exceeds configured maximum token cap.")
    if problems:
        raise issue(", ".join(problems))
    return int(result)


def enum(*options: str) -> Callable[[object], str]:
    joined = " | ".join(f"'{o}'" for o in options)

    def check(value: object) -> str:
        if not isinstance(value, str):
            raise issue(f"Expected {joined}, received {js_type(value)}")
        if value not in options:
            shown = value if len(value) <= MAX_QUOTED_CHARS else value[:MAX_QUOTED_CHARS] + "…"
            raise issue(f"Invalid enum value. Expected {joined}, received '{shown}'")
        return value

    return check


def literal(expected: str) -> Callable[[object], str]:
    def check(value: object) -> str:
        if value != expected:
            raise issue(f'Invalid literal value, expected "{expected}"')
        return expected

    return check


def documented(schema: dict[str, Any]) -> Any:
    """A `json_schema_input_type` that documents exactly `schema`."""
    return Annotated[Any, WithJsonSchema(schema)]


def one_of(*options: str) -> PlainValidator:
    """zod's `z.enum(options)`."""
    schema = {"type": "string", "enum": list(options)}
    return PlainValidator(enum(*options), json_schema_input_type=documented(schema))


def exactly(expected: str) -> PlainValidator:
    """zod's `z.literal(expected)`."""
    schema = {"type": "string", "const": expected}
    return PlainValidator(literal(expected), json_schema_input_type=documented(schema))


def number_in(
    *, ge: float | None = None, le: float | None = None, integer: bool = False
) -> PlainValidator:
    """zod's `z.number()` with `.min(ge)`, `.max(le)`, `.int()`."""
    schema: dict[str, Any] = {"type": "integer" if integer else "number"}
    if ge is not None:
        schema["minimum"] = ge
    if le is not None:
        schema["maximum"] = le
    check = number(ge=ge, le=le, integer=integer)
    return PlainValidator(check, json_schema_input_type=documented(schema))


def _record(value: object) -> dict[str, Any]:
    _expect(value, "object")
    assert isinstance(value, dict)
    return value


def _collapse_union(value: object, handler: ValidatorFunctionWrapHandler) -> Any:
    # zod reports a union whose every option failed as one "Invalid input", whatever the cause.
    try:
        return handler(value)
    except ValidationError as err:
        raise issue("Invalid input") from err


def not_null(expected: str) -> Callable[[object], object]:
    """zod's `.optional()` admits a missing key but not JSON null."""

    def check(value: object) -> object:
        if value is None:
            raise issue(f"Expected {expected}, received null")
        return value

    return check


# The Opt* forms still run the check on JSON null, which zod's `.optional()` refuses.
# Each is documented without null for the same reason.
Str = Annotated[str, PlainValidator(_string, json_schema_input_type=str)]
OptStr = Annotated[str | None, PlainValidator(_string, json_schema_input_type=str)]
Bool = Annotated[bool, PlainValidator(boolean, json_schema_input_type=bool)]
OptBool = Annotated[bool | None, PlainValidator(boolean, json_schema_input_type=bool)]
OptRecord = Annotated[
    dict[str, Any] | None, PlainValidator(_record, json_schema_input_type=dict[str, Any])
]
_TOKENS = {
    "type": "integer",
    "exclusiveMinimum": 0,
    "description": "At most the gateway's MAX_COMPLETION_TOKENS.",
}
OptMaxTokens = Annotated[
    int | None, PlainValidator(_max_tokens, json_schema_input_type=documented(_TOKENS))
]
Union = WrapValidator(_collapse_union)


def zod_messages(errors: Sequence[ErrorDetails]) -> str:
    shown = ", ".join(_message(e) for e in errors[:MAX_ISSUES])
    hidden = len(errors) - MAX_ISSUES
    return f"{shown}, and {hidden} more issues" if hidden > 0 else shown


def _message(err: ErrorDetails) -> str:
    kind = err["type"]
    if kind == "zod":
        return err["msg"]
    if kind == "missing":
        return "Required"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"Expected object, received {js_type(err['input'])}"
    if kind in ("list_type", "tuple_type"):
        return f"Expected array, received {js_type(err['input'])}"
    return "Invalid input"

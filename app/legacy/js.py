"""How JavaScript writes numbers, which the legacy API's bytes and messages follow.

One rule: a float with no fractional part, below 2**53, is an integer to JavaScript (`1.0` is
`1`, `-0.0` is `0`); every other number prints as Python prints it. `JSON.stringify` and
`String(n)` both follow it, and so must every number the legacy surface writes.
"""

import re
from decimal import ROUND_HALF_UP, Decimal

import orjson

MAX_SAFE_INTEGER = 2**53

# orjson and JSON.stringify agree on every float except integral ones (1.0 vs 1, -0.0 vs 0);
# the rule above, applied to a serialised array in one pass.
_INTEGRAL_FLOAT = re.compile(rb"(?<![\d.eE+-])(-?\d+)\.0(?=[,\]])")
_NEGATIVE_ZERO = re.compile(rb"(?<![\d.eE])-0(?=[,\]])")


def js_value(value: float) -> float:
    """The number as JavaScript holds it (an integral float becomes an int)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < MAX_SAFE_INTEGER:
        return int(value)
    return value


def js_number(value: float) -> str:
    """`String(n)` of JavaScript."""
    return str(js_value(value))


def js_float_array(values: list[float]) -> bytes:
    """`JSON.stringify` of an array of numbers."""
    raw = orjson.dumps(values)
    return _NEGATIVE_ZERO.sub(b"0", _INTEGRAL_FLOAT.sub(rb"\1", raw))


def js_to_fixed(value: float, digits: int) -> str:
    """`n.toFixed(digits)`: ties round up, unlike Python's format."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))

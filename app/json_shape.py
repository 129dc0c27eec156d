"""Bounds on a JSON body's shape, checked once it is parsed and before anything else looks at it.

Both surfaces parse with orjson and then call `check_shape`:
- nesting depth at most MAX_JSON_DEPTH (64): orjson reads about 1,024 levels but cannot write
  more than 254, so a deep `metadata` reached the upstream call and failed there with a 500;
  no real request nests half as deep;
- array elements plus object members in the whole body at most MAX_JSON_ITEMS (20,000): each one
  can cost a validation error, and a million of them (2 MB of `[1,1,…]`) once held the event
  loop for 15 s while every error was rendered.
The walk visits containers only and refuses a container as soon as its length passes what is
left, so a hostile array is refused before a single element is looked at.
"""

from typing import Any

import orjson

Json = dict[str, Any]  # a JSON object, as parsed: the one alias every module uses


class JsonShapeError(ValueError):
    """The body is valid JSON, but too deep or too large; `message` is fit for the caller."""

    def __init__(self, message: str, next_actions: str) -> None:
        super().__init__(message)
        self.message = message
        self.next_actions = next_actions


def too_deep(limit: int) -> JsonShapeError:
    return JsonShapeError(
        f"The request body is nested too deeply (this gateway allows {limit} levels).",
        "Flatten the nested values, or raise MAX_JSON_DEPTH on the gateway.",
    )


def loads(raw: bytes, max_depth: int) -> Any:
    """orjson.loads, with orjson's own recursion limit reported as what it is."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        if str(err).startswith(("depth limit", "recursion")):
            raise too_deep(max_depth) from None
        raise


def check_shape(value: Any, *, max_depth: int, max_items: int) -> None:
    if not isinstance(value, dict | list):
        return
    budget = max_items
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        budget -= len(children)
        if budget < 0:
            raise JsonShapeError(
                f"The request body has too many values (this gateway allows {max_items} "
                "array elements and object members in all).",
                "Send a smaller request, or raise MAX_JSON_ITEMS on the gateway.",
            )
        for child in children:
            if isinstance(child, dict | list):
                if depth >= max_depth:
                    raise too_deep(max_depth)
                stack.append((child, depth + 1))

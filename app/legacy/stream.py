"""The legacy stream: upstream chunks translated into the legacy SSE events, and its relay.

Order on a clean end: `chunk`s as content arrives, `tokenUsage` when usage arrives (summed across
chunks, as the legacy route did), then one assembled `tool_calls`, then `annotations`, then `done`.
"""

from collections.abc import AsyncIterator
from typing import Any

from app.json_shape import Json
from app.legacy.errors import to_legacy_error
from app.legacy.translate import map_annotations
from app.streams.clock import ShutdownCoordinator, StreamClock
from app.streams.relay import Ending, relay
from app.streams.response import json_frame
from app.upstream.client import UpstreamClient
from app.upstream.failures import UpstreamFailure


class LegacyStreamState:
    __slots__ = ("usage", "calls", "annotations")

    def __init__(self) -> None:
        self.usage: dict[str, float] = {"promptTokens": 0, "completionTokens": 0, "totalTokens": 0}
        self.calls: dict[int, Json] = {}
        self.annotations: list[Any] = []

    def on_chunk(self, chunk: Json) -> list[Json]:
        """Events for one upstream chunk (already known not to be an error)."""
        out: list[Json] = []
        choices = chunk.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            delta = choices[0].get("delta")
            if isinstance(delta, dict):
                content = delta.get("content")
                if isinstance(content, str) and content:
                    out.append({"chunk": content})
                self._merge_calls(delta.get("tool_calls"))
                annotations = delta.get("annotations")
                if isinstance(annotations, list):
                    self.annotations.extend(annotations)
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            for camel, snake in (
                ("promptTokens", "prompt_tokens"),
                ("completionTokens", "completion_tokens"),
                ("totalTokens", "total_tokens"),
            ):
                value = usage.get(snake)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    self.usage[camel] += value
            out.append({"tokenUsage": dict(self.usage)})
        return out

    def _merge_calls(self, fragments: Any) -> None:
        if not isinstance(fragments, list):
            return
        for fragment in fragments:
            if not isinstance(fragment, dict):
                continue
            index = fragment.get("index")
            index = index if isinstance(index, int) else 0
            function = fragment.get("function") or {}
            arguments = function.get("arguments") or ""
            call = self.calls.get(index)
            if call is None:
                # The first fragment of a call fixes its id and name; later ones only add text.
                self.calls[index] = {
                    "id": fragment.get("id"),
                    "type": "function",
                    "function": {"name": function.get("name"), "arguments": arguments},
                }
            else:
                call["function"]["arguments"] += arguments

    def finish(self) -> list[Json]:
        """Events after a real end of stream."""
        out: list[Json] = []
        if self.calls:
            out.append({"tool_calls": [self.calls[i] for i in sorted(self.calls)]})
        annotations = map_annotations(self.annotations)
        if annotations:
            out.append({"annotations": annotations})
        out.append({"done": True})
        return out


def error_frame(message: str) -> bytes:
    return json_frame({"error": True, "message": message})


class LegacyTranslator:
    """The legacy events: chunk, tokenUsage, tool_calls, annotations, done; errors as
    `{"error":true,"message":…}` and no done."""

    __slots__ = ("_state",)

    def __init__(self) -> None:
        self._state = LegacyStreamState()

    def chunk(self, chunk: dict[str, Any], raw: str) -> list[bytes]:  # noqa: ARG002
        return [json_frame(obj) for obj in self._state.on_chunk(chunk)]

    def done(self) -> list[bytes]:
        return [json_frame(obj) for obj in self._state.finish()]

    def fault(self, message: str) -> bytes:
        return error_frame(message)

    def failure(self, failure: UpstreamFailure) -> bytes:
        return error_frame(to_legacy_error(failure).message)


def legacy_relay(
    upstream: UpstreamClient,
    body: dict[str, object],
    shutdown: ShutdownCoordinator,
    ending: Ending,
) -> AsyncIterator[bytes]:
    """The legacy stream: the upstream is opened inside, so even its refusal is an event."""
    clock = StreamClock(upstream.settings, shutdown)
    return relay(
        lambda: upstream.open_stream("chat/completions", body),
        clock,
        shutdown,
        LegacyTranslator(),
        upstream.settings.openrouter_api_key.get_secret_value(),
        ending,
    )

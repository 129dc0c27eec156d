"""Scenario specs: the model-name / header DSL and the queued-JSON form.

A spec is a scenario name plus string parameters. ``mock/error?status=429&retry_after=1``,
the header value ``error?status=429&retry_after=1`` and the queued object
``{"scenario": "error", "status": 429, "retry_after": 1}`` all parse to the same spec.
Parameters stay strings until a scenario reads them, so unknown keys cost nothing.

Parameter names, by the module that reads them:
- timing (variants.Knobs): ttft_ms tpot_ms jitter keepalive_ms header_delay_ms comment_prob
  split_pause_ms
- wire forms (variants.Variants): usage_form=U0|U1 empty_first provider native fingerprint comments
  ws write_split=one_per_event|coalesce|split_mid_line|split_mid_utf8 crlf gzip versioned
- content (content): text tokens parallel whole bytes picture finish prompt_tokens
  completion_tokens
- faults (script, stream, errors): fault status message retry_after daily code shape=A|B|C after
  stall_ms seconds end=done|close
- embeddings: vector echo_model prompt_tokens
- video (video, video_jobs): polls fail end error cost bytes chunk_ms drop_at
Values are URL-decoded (``+`` is a space, ``%26`` an ``&``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

MOCK_PREFIX = "mock/"

# OpenRouter model variants; the gateway appends ``:thinking`` after any DSL query string.
MODEL_VARIANTS = ("thinking", "free", "online", "nitro", "floor", "extended")

ALIASES = {
    "tools": "tool",
    "annotations": "web",
    "stream": "text",
    "http_error": "error",
    "http_errors": "error",
    "drop_mid_stream": "drop",
    "drop_nonstream": "drop",
    "5xx_then_ok": "text",
}

CONTENT_SCENARIOS = frozenset({"text", "tool", "web", "image", "reasoning"})
FAULT_SCENARIOS = frozenset(
    {
        "error",
        "nonstream_200_error",
        "choice_error_partial",
        "drop",
        "slow_headers",
        "midstream_error",
        "error_before_tokens_200",
        "keepalive_only",
        "stall",
        "malformed",
    }
)
EMBEDDING_SCENARIOS = frozenset({"embeddings", "embeddings_empty"})
VIDEO_SCENARIOS = frozenset({"video"})
KNOWN_SCENARIOS = CONTENT_SCENARIOS | FAULT_SCENARIOS | EMBEDDING_SCENARIOS | VIDEO_SCENARIOS


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """A resolved scenario: ``name`` is always a known scenario, ``requested`` what was asked."""

    name: str
    params: dict[str, str] = field(default_factory=dict)
    requested: str = ""
    source: str = "default"

    def get_int(self, key: str, default: int) -> int:
        try:
            return int(float(self.params[key]))
        except (KeyError, ValueError):
            return default

    def get_float(self, key: str, default: float) -> float:
        try:
            return float(self.params[key])
        except (KeyError, ValueError):
            return default

    def get_flag(self, key: str) -> bool | None:
        value = self.params.get(key)
        if value is None:
            return None
        return value.strip().lower() not in ("", "0", "false", "no", "off")


def strip_variant(model: str) -> tuple[str, str]:
    """Split ``vendor/slug[:variant]`` into base and ``:variant`` (empty when absent)."""
    base, sep, variant = model.rpartition(":")
    if sep and variant in MODEL_VARIANTS:
        return base, sep + variant
    return model, ""


def normalise(name: str) -> str:
    name = ALIASES.get(name, name)
    return name if name in KNOWN_SCENARIOS else "text"


def parse_dsl(text: str, source: str) -> ScenarioSpec:
    """Parse ``[mock/]name[?k=v&...]``; unknown names behave as ``text``."""
    base, _ = strip_variant(text.strip())
    if base.startswith(MOCK_PREFIX):
        base = base[len(MOCK_PREFIX) :]
    name, _, query = base.partition("?")
    params = dict(parse_qsl(query, keep_blank_values=True))
    return ScenarioSpec(normalise(name), params, requested=name, source=source)


def _param_str(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def spec_from_json(obj: dict[str, Any], source: str = "queue") -> ScenarioSpec:
    """Queued specs are JSON objects: ``{"scenario": name, <param>: <value>, ...}``."""
    raw = str(obj.get("scenario", "text"))
    base = parse_dsl(raw, source)
    params = dict(base.params)
    params.update({k: _param_str(v) for k, v in obj.items() if k != "scenario" and v is not None})
    return ScenarioSpec(base.name, params, requested=base.requested, source=source)


def model_spec(model: str) -> ScenarioSpec:
    """Spec implied by the request's ``model``: only ``mock/...`` models carry a DSL."""
    if model.startswith(MOCK_PREFIX):
        return parse_dsl(model, "model")
    return ScenarioSpec("text", {}, requested="", source="default")


def echo_model(model: str) -> str:
    """The response ``model``: the DSL query is dropped, the ``:variant`` suffix is kept."""
    base, variant = strip_variant(model)
    return base.partition("?")[0] + variant

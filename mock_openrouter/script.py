"""The scenario model: request + spec + seeded RNG -> ``Plan``. Pure; no I/O, no clock reads.

Scenario names are content (``text tool web image reasoning``), faults (``error``,
``nonstream_200_error``, ``choice_error_partial``, ``drop``, ``slow_headers``, ``midstream_error``,
``error_before_tokens_200``, ``keepalive_only``, ``stall``, ``malformed``) and embeddings
(``embeddings``, ``embeddings_empty``). A fault can also ride on a content scenario with
``fault=<name>`` (``mock/tool?fault=drop``). Faults that only make sense in one mode are mapped to
their counterpart in the other: in a stream ``nonstream_200_error`` is ``error_before_tokens_200``
and ``choice_error_partial`` is ``midstream_error`` shape A; without ``stream`` both mid-stream
errors become ``nonstream_200_error``.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import orjson

from . import payloads as p
from .catalog import pricing_for
from .config import MockConfig
from .content import Content, build_content
from .dsl import CONTENT_SCENARIOS, FAULT_SCENARIOS, ScenarioSpec, echo_model
from .errors import http_error, inband_error, parse_code
from .plan import (
    WHITESPACE,
    Abort,
    Plan,
    Sleep,
    Step,
    Write,
    apply_write_split,
    gap,
    gzip_steps,
    to_crlf,
)
from .stream import ChunkMaker, has_multibyte, stream_steps
from .variants import Knobs, Variants, choose_variants

DEFAULT_MODEL = "openai/gpt-4o-mini"
JSON = b"application/json"
EVENT_STREAM = b"text/event-stream"
_STREAM_ALIASES = {"nonstream_200_error": "error_before_tokens_200"}
_NONSTREAM_ALIASES = {
    "midstream_error": "nonstream_200_error",
    "error_before_tokens_200": "nonstream_200_error",
}


def base_headers(rng: random.Random, content_type: bytes) -> list[tuple[bytes, bytes]]:
    """The headers every upstream response carries."""
    return [
        (b"content-type", content_type),
        (b"access-control-allow-origin", b"*"),
        (b"access-control-expose-headers", b"X-Generation-Id,cf-ray"),
        (b"cf-ray", b"%016x-SJC" % rng.getrandbits(64)),
        (b"server", b"cloudflare"),
        (b"x-content-type-options", b"nosniff"),
    ]


def json_plan(
    status: int,
    body: dict[str, Any],
    scenario: str,
    rng: random.Random,
    extra: dict[str, str] | None = None,
    header_delay: float = 0.0,
) -> Plan:
    data = orjson.dumps(body)
    headers = base_headers(rng, JSON) + [(b"content-length", str(len(data)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
    return Plan(status, headers, [Write(data)], scenario, header_delay=header_delay)


def resolve_fault(spec: ScenarioSpec, stream: bool) -> tuple[str, str | None]:
    """(content scenario, fault or None) for a spec, mapped to the request's mode."""
    content = spec.name if spec.name in CONTENT_SCENARIOS else "text"
    fault = spec.name if spec.name in FAULT_SCENARIOS else spec.params.get("fault")
    if fault not in FAULT_SCENARIOS or fault == "slow_headers":
        return content, None
    if stream:
        if fault == "choice_error_partial":
            return content, "midstream_error"
        return content, _STREAM_ALIASES.get(fault, fault)
    return content, _NONSTREAM_ALIASES.get(fault, fault)


def _completion_body(
    gen_id: str, created: int, model: str, content: Content, v: Variants, usage: dict[str, Any]
) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": content.finish_reason}
    if v.native is not None:
        choice["native_finish_reason"] = v.native
    choice["message"] = content.message
    body: dict[str, Any] = {
        "id": gen_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
    }
    if v.provider is not None:
        body["provider"] = v.provider
    if v.fingerprint:
        body["system_fingerprint"] = None
    return {**body, "choices": [choice], "usage": usage}


def _nonstream_steps(
    spec: ScenarioSpec,
    fault: str | None,
    body: dict[str, Any],
    content: Content,
    v: Variants,
    knobs: Knobs,
) -> list[Step]:
    steps: list[Step] = [Write(WHITESPACE * v.ws_repeats)] if v.ws_repeats else []
    wait = knobs.ttft_s + knobs.tpot_s * len(content.deltas)
    if fault == "keepalive_only":
        wait += spec.get_float("seconds", 5.0)
    steps += gap(wait, WHITESPACE, knobs.keepalive_s)
    if fault == "stall":
        steps.append(Sleep(spec.get_float("stall_ms", 10_000.0) / 1000))
    if fault == "nonstream_200_error":
        code = parse_code(spec.params.get("code"), 400)
        error = {"message": spec.params.get("message", "Provider returned error"), "code": code}
        return [*steps, Write(orjson.dumps({"error": error}))]
    if fault == "choice_error_partial":
        code = parse_code(spec.params.get("code"), 502)
        choice = body["choices"][0]
        choice["finish_reason"] = "error"
        choice["message"] = {
            "role": "assistant",
            "content": spec.params.get("text", p.PARTIAL_CONTENT),
        }
        choice["error"] = inband_error(
            code, spec.params.get("message", "Provider disconnected mid-stream")
        )
    data = orjson.dumps(body)
    if fault == "malformed":
        return [*steps, Write(data[: len(data) // 2])]
    if fault == "drop":
        return [*steps, Write(data[: len(data) // 2]), Abort()]
    return [*steps, Write(data, content.completion_tokens)]


def build_chat_plan(
    spec: ScenarioSpec,
    request: dict[str, Any],
    cfg: MockConfig,
    rng: random.Random,
    now: float,
    accept_gzip: bool,
) -> Plan:
    """The plan for ``POST /chat/completions``."""
    requested_model = str(request.get("model") or DEFAULT_MODEL)
    stream = request.get("stream") is True
    knobs = Knobs.resolve(cfg, spec)
    if "error" in (spec.name, spec.params.get("fault")):
        status, body, extra = http_error(spec, requested_model, now)
        return json_plan(status, body, "error", rng, extra, knobs.header_delay_s)

    content_name, fault = resolve_fault(spec, stream)
    content = build_content(content_name, spec)
    v = choose_variants(spec, rng, content.finish_reason, has_multibyte(content))
    gen_id = p.generation_id(rng, now)
    model = echo_model(requested_model)
    if spec.get_flag("versioned"):
        model += "-20260224"
    pricing = pricing_for(requested_model)
    usage = p.usage(
        content.prompt_tokens,
        content.completion_tokens,
        pricing,
        reasoning_tokens=content.reasoning_tokens,
        image_tokens=content.image_tokens,
    )
    headers = base_headers(rng, EVENT_STREAM if stream else JSON)
    if stream:
        headers.append((b"cache-control", b"no-cache"))
        steps = stream_steps(
            spec, fault, content, usage, ChunkMaker(gen_id, int(now), model, v), knobs, rng
        )
        if v.crlf:
            steps = to_crlf(steps)
        steps = apply_write_split(steps, v.write_split, rng, knobs.pause_s)
    else:
        body = _completion_body(gen_id, int(now), model, content, v, usage)
        steps = _nonstream_steps(spec, fault, body, content, v, knobs)
        use_gzip = spec.get_flag("gzip")
        if accept_gzip and (cfg.gzip if use_gzip is None else use_gzip):
            headers.append((b"content-encoding", b"gzip"))
            steps = gzip_steps(steps)
    headers.append((b"x-generation-id", gen_id.encode()))
    plan = Plan(
        200,
        headers,
        steps,
        spec.name if fault is None else fault,
        stream=stream,
        header_delay=knobs.header_delay_s,
        generation_id=gen_id,
        model=model,
        provider=v.provider,
        finish_reason=content.finish_reason,
        prompt_tokens=content.prompt_tokens,
        completion_tokens=content.completion_tokens,
        cost=float(usage["cost"]),
        meta={"write_split": v.write_split, "usage_form": v.usage_form} if stream else {},
    )
    if fault in ("nonstream_200_error", "error_before_tokens_200", "keepalive_only"):
        plan = replace(plan, prompt_tokens=0, completion_tokens=0, cost=0.0)
    return plan

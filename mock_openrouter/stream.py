"""Streamed chat completions: the SSE events and their timing.

Normal order: comments, [empty first delta], content deltas with ``role`` every time, a finish
chunk, the usage chunk (form U1 or U0), ``data: [DONE]``. Faults cut in after ``after`` deltas:
``midstream_error`` (shape A/B/C, no [DONE]), ``drop`` (abort, no terminal chunk) and ``stall``
(silence without keep-alives). ``error_before_tokens_200`` and ``keepalive_only`` never send a
content delta; ``malformed`` sends a non-JSON data line and an unknown ``event:`` first.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from .content import Content, Delta, token_shares
from .dsl import ScenarioSpec
from .errors import inband_error, parse_code
from .plan import COMMENT, DONE, Abort, Sleep, Step, Write, gap, sse
from .variants import Knobs, Variants

MALFORMED_EVENTS = (b"data: {malformed json\n\n", b"event: ping\n\n")
INTERRUPTING_FAULTS = frozenset({"midstream_error", "drop", "stall"})


class ChunkMaker:
    """Builds ``data:`` events that share the id/model/provider head, as upstream repeats them."""

    def __init__(self, gen_id: str, created: int, model: str, variants: Variants) -> None:
        self.head: dict[str, Any] = {
            "id": gen_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }
        if variants.provider is not None:
            self.head["provider"] = variants.provider
        if variants.fingerprint:
            self.head["system_fingerprint"] = "fp_mock0001"
        self.variants = variants

    def choice(self, delta: Delta, finish: str | None, native: str | None) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
        if self.variants.native is not None:
            choice["native_finish_reason"] = native
        if self.variants.fingerprint:
            choice["logprobs"] = None
        return choice

    def event(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        return sse(orjson.dumps({**self.head, "choices": choices, **extra}))

    def error_event(self, shape: str, code: int | str, message: str | None) -> bytes:
        err = inband_error(code, message)
        if shape == "C":
            return sse(orjson.dumps({"error": {"message": err["message"], "code": code}}))
        if shape == "B":
            return sse(orjson.dumps({**self.head, "choices": [], "error": err}))
        failed = {"index": 0, "delta": {"content": ""}, "finish_reason": "error"}
        return sse(orjson.dumps({**self.head, "error": err, "choices": [failed]}))


def stream_steps(
    spec: ScenarioSpec,
    fault: str | None,
    content: Content,
    usage: dict[str, Any],
    maker: ChunkMaker,
    knobs: Knobs,
    rng: random.Random,
) -> list[Step]:
    v = maker.variants
    steps: list[Step] = [Write(COMMENT) for _ in range(v.lead_comments)]
    message = spec.params.get("message")
    if fault == "keepalive_only":
        steps += gap(spec.get_float("seconds", 5.0), COMMENT, knobs.keepalive_s)
        if v.end == "done":
            steps.append(Write(DONE))
        return steps
    steps += gap(knobs.ttft_s, COMMENT, knobs.keepalive_s)
    if fault == "error_before_tokens_200":
        code = parse_code(spec.params.get("code"), 400)
        steps.append(Write(maker.error_event("B", code, message)))
        return steps
    if fault == "malformed":
        steps += [Write(event) for event in MALFORMED_EVENTS]
    if v.empty_first:
        steps.append(
            Write(maker.event([maker.choice({"role": "assistant", "content": ""}, None, None)]))
        )

    after = spec.get_int("after", 1)

    def interrupt() -> bool:
        """Apply the fault at the ``after`` point; True when it ends the stream."""
        if fault == "midstream_error":
            code = parse_code(spec.params.get("code"), 502)
            steps.append(Write(maker.error_event(v.shape, code, message)))
            return True
        if fault == "drop":
            steps.append(Abort())
            return True
        if fault == "stall":
            steps.append(Sleep(spec.get_float("stall_ms", 10_000.0) / 1000))
        return False

    shares = token_shares(content.completion_tokens, len(content.deltas))
    for i, (delta, tokens) in enumerate(zip(content.deltas, shares, strict=True)):
        if i == after and fault in INTERRUPTING_FAULTS and interrupt():
            return steps
        if i > 0:
            steps += gap(knobs.tpot(rng), COMMENT, knobs.keepalive_s)
            if rng.random() < knobs.comment_prob:
                steps.append(Write(COMMENT))
        steps.append(Write(maker.event([maker.choice(delta, None, None)]), tokens))
    if after >= len(content.deltas) and fault in INTERRUPTING_FAULTS and interrupt():
        return steps

    finish = maker.choice({"content": "", "role": "assistant"}, content.finish_reason, v.native)
    steps.append(Write(maker.event([finish])))
    if v.usage_form == "U1":
        steps.append(Write(maker.event([finish], usage=usage)))
    else:
        steps.append(Write(maker.event([], usage=usage)))
    steps.append(Write(DONE))
    return steps


def has_multibyte(content: Content) -> bool:
    return any(
        isinstance(d.get("content"), str) and not d["content"].isascii() for d in content.deltas
    )

"""What a successful completion says: stream deltas and the non-stream message, per scenario.

Content is independent of framing and faults: ``script`` wraps these deltas in chunks, keep-alives
and errors. Parameters read here: ``text``, ``tokens``, ``parallel``, ``whole``, ``bytes``,
``finish``, ``prompt_tokens``, ``completion_tokens`` (and ``write_split=split_mid_utf8`` picks a
multi-byte default text so there is a character to split).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import payloads as p
from .dsl import ScenarioSpec

Delta = dict[str, Any]


@dataclass(slots=True)
class Content:
    deltas: list[Delta]
    message: dict[str, Any]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int = 0
    image_tokens: int = 0


def _delta(content: str | None, **extra: Any) -> Delta:
    return {"content": content, "role": "assistant", **extra}


def _message(content: str | None, **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, "refusal": None, **extra}


def _text_pieces(
    spec: ScenarioSpec, default_deltas: tuple[str, ...], default_full: str
) -> tuple[list[str], str]:
    if "text" in spec.params:
        text = spec.params["text"]
        return p.split_text(text), text
    tokens = spec.get_int("tokens", 0)
    if tokens > 0:
        words = p.generated_words(tokens)
        return words, "".join(words)
    if spec.params.get("write_split") == "split_mid_utf8":
        return p.split_text(p.UTF8_SAMPLE), p.UTF8_SAMPLE
    return list(default_deltas), default_full


def _tool_content(spec: ScenarioSpec) -> tuple[list[Delta], dict[str, Any]]:
    count = max(1, min(spec.get_int("parallel", 1), len(p.TOOL_CALLS)))
    calls = list(p.TOOL_CALLS[:count])
    deltas: list[Delta] = []
    if spec.get_flag("whole"):
        for i, call in enumerate(calls):
            deltas.append(_delta(None, tool_calls=[{"index": i, **call}]))
    else:
        # Parallel calls interleave by fragment, as providers do; only fragment 0 has id/name.
        for frag in range(len(p.TOOL_ARG_FRAGMENTS[0])):
            for i, call in enumerate(calls):
                args = p.TOOL_ARG_FRAGMENTS[i][frag]
                if frag == 0:
                    fn = {"name": call["function"]["name"], "arguments": args}
                    item = {"index": i, "id": call["id"], "type": "function", "function": fn}
                else:
                    item = {"index": i, "function": {"arguments": args}}
                deltas.append(_delta(None, tool_calls=[item]))
    return deltas, _message(None, tool_calls=calls)


def build_content(name: str, spec: ScenarioSpec) -> Content:
    prompt = spec.get_int("prompt_tokens", p.PROMPT_TOKENS)
    finish = "stop"
    reasoning_tokens = image_tokens = 0
    message: dict[str, Any]
    deltas: list[Delta]
    if name == "tool":
        deltas, message = _tool_content(spec)
        finish = "tool_calls"
    elif name == "web":
        pieces, full = _text_pieces(spec, p.WEB_DELTAS, p.TEXT_CONTENT)
        deltas = [_delta(piece) for piece in pieces]
        # end_index differs between the forms (5 vs 4) exactly as in the legacy transcripts.
        deltas[-1]["annotations"] = p.url_annotations(4)
        message = _message(full, annotations=p.url_annotations(5))
    elif name == "image":
        image = p.image_item(spec.get_int("bytes", 0), picture=spec.get_int("picture", 0) > 0)
        text = spec.params.get("text", p.IMAGE_CONTENT)
        deltas = [_delta(text), _delta("", images=[image])]
        message = _message(text, images=[image])
    elif name == "reasoning":
        pieces = ["Let me ", "think about it."]
        details = p.reasoning_details(pieces)
        deltas = [
            _delta("", reasoning=piece, reasoning_details=[d])
            for piece, d in zip(pieces, details, strict=True)
        ]
        text = spec.params.get("text", "")
        deltas += [_delta(piece) for piece in (p.split_text(text) if text else [])]
        merged = p.reasoning_details([p.REASONING_TEXT])
        message = _message(text, reasoning=p.REASONING_TEXT, reasoning_details=merged)
    else:
        pieces, full = _text_pieces(spec, p.TEXT_DELTAS, p.TEXT_CONTENT)
        deltas = [_delta(piece) for piece in pieces]
        message = _message(full)
    default_completion = len(deltas) if spec.get_int("tokens", 0) > 0 else p.COMPLETION_TOKENS
    completion = spec.get_int("completion_tokens", default_completion)
    if name == "reasoning":
        reasoning_tokens = completion
    elif name == "image":
        image_tokens = completion
    return Content(
        deltas=deltas,
        message=message,
        finish_reason=spec.params.get("finish", finish),
        prompt_tokens=prompt,
        completion_tokens=completion,
        reasoning_tokens=reasoning_tokens,
        image_tokens=image_tokens,
    )


def token_shares(total: int, parts: int) -> list[int]:
    """Spread ``total`` completion tokens over ``parts`` deltas (remainder on the last)."""
    if parts <= 0:
        return []
    base = total // parts
    return [base] * (parts - 1) + [total - base * (parts - 1)]

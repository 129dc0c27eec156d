"""What a response is made of: status, headers and a list of steps (write bytes, sleep, abort).

Plans are pure data, built by ``script`` and run by ``executor``. The transforms here reshape the
steps without changing the bytes a client finally reads (keep-alive gaps, write splitting, CRLF,
gzip), which is how one scenario yields the many wire forms OpenRouter is seen to use.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field

COMMENT = b": OPENROUTER PROCESSING\n\n"
WHITESPACE = b"\n         \n"
DONE = b"data: [DONE]\n\n"
WRITE_SPLITS = ("one_per_event", "coalesce", "split_mid_line", "split_mid_utf8")


@dataclass(frozen=True, slots=True)
class Write:
    """One ASGI body send. ``tokens`` are the completion tokens it delivers (for billing)."""

    data: bytes
    tokens: int = 0


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Abort:
    """Raise inside the ASGI app after the previous writes, so uvicorn drops the connection."""


Step = Write | Sleep | Abort


@dataclass(slots=True)
class Plan:
    status: int
    headers: list[tuple[bytes, bytes]]
    steps: list[Step]
    scenario: str
    stream: bool = False
    header_delay: float = 0.0
    generation_id: str | None = None
    model: str = ""
    provider: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    meta: dict[str, str] = field(default_factory=dict)


def sse(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"


def gap(seconds: float, keepalive: bytes | None, keepalive_s: float) -> list[Step]:
    """A silent wait, broken by a keep-alive every ``keepalive_s`` when ``keepalive`` is set."""
    steps: list[Step] = []
    if seconds <= 0:
        return steps
    if keepalive is not None and keepalive_s > 0:
        while seconds > keepalive_s:
            steps += [Sleep(keepalive_s), Write(keepalive)]
            seconds -= keepalive_s
    steps.append(Sleep(seconds))
    return steps


def to_crlf(steps: list[Step]) -> list[Step]:
    # Compact JSON never contains a raw newline, so every LF in a stream is framing.
    return [
        Write(s.data.replace(b"\n", b"\r\n"), s.tokens) if isinstance(s, Write) else s
        for s in steps
    ]


def coalesce(steps: list[Step], rng: random.Random) -> list[Step]:
    """Merge runs of adjacent writes (no sleep between) into groups of 2-4 writes."""
    out: list[Step] = []
    group: list[Write] = []
    limit = rng.randint(2, 4)

    def flush() -> None:
        if group:
            out.append(Write(b"".join(w.data for w in group), sum(w.tokens for w in group)))
            group.clear()

    for step in steps:
        if isinstance(step, Write):
            group.append(step)
            if len(group) >= limit:
                flush()
        else:
            flush()
            out.append(step)
    flush()
    return out


def _utf8_cut(data: bytes) -> int | None:
    for i, byte in enumerate(data):
        if byte >= 0xC0:
            return i + 1
    return None


def split_writes(steps: list[Step], mode: str, rng: random.Random, pause_s: float) -> list[Step]:
    """Split each write in two (mid-line, or inside a multi-byte character) with a short pause."""
    out: list[Step] = []
    for step in steps:
        if not isinstance(step, Write) or len(step.data) < 4:
            out.append(step)
            continue
        cut = (
            _utf8_cut(step.data) if mode == "split_mid_utf8" else rng.randint(1, len(step.data) - 2)
        )
        if cut is None:
            out.append(step)
            continue
        out += [Write(step.data[:cut]), Sleep(pause_s), Write(step.data[cut:], step.tokens)]
    return out


def apply_write_split(
    steps: list[Step], mode: str, rng: random.Random, pause_s: float
) -> list[Step]:
    if mode == "coalesce":
        return coalesce(steps, rng)
    if mode in ("split_mid_line", "split_mid_utf8"):
        return split_writes(steps, mode, rng, pause_s)
    return steps


def gzip_steps(steps: list[Step]) -> list[Step]:
    """Gzip the body as one stream, flushing per write so keep-alives still reach the client."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    out: list[Step] = []
    last_write = max((i for i, s in enumerate(steps) if isinstance(s, Write)), default=-1)
    aborts = any(isinstance(s, Abort) for s in steps)
    for i, step in enumerate(steps):
        if not isinstance(step, Write):
            out.append(step)
            continue
        data = compressor.compress(step.data)
        final = i == last_write and not aborts
        data += compressor.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)
        out.append(Write(data, step.tokens))
    return out


def body_size(steps: list[Step]) -> int:
    return sum(len(s.data) for s in steps if isinstance(s, Write))

"""Canned response fragments.

The defaults here are chosen so the gateway's legacy output matches the captured InsForge
transcripts byte for byte (the gateway's tests pin them: tests/routers/test_chat*.py,
tests/routers/test_media.py): usage 12/8/20,
"Hello there!", stream deltas "Hel"/"lo!", the ``call_abc123`` weather call, the
``https://ex.com/a`` citation and the tiny PNG data URL. Change them only together with those
transcripts.
"""

from __future__ import annotations

import base64
import functools
import itertools
import random
import string
import struct
import zlib
from typing import Any

PROMPT_TOKENS = 12
COMPLETION_TOKENS = 8
EMBEDDING_PROMPT_TOKENS = 4

TEXT_CONTENT = "Hello there!"
TEXT_DELTAS = ("Hel", "lo!")
WEB_DELTAS = ("News", "!")
IMAGE_CONTENT = "Here is your image."
TINY_PNG_URL = "data:image/png;base64,iVBORw0KGgo="
UTF8_SAMPLE = "héllo 世界"
PARTIAL_CONTENT = "partial output..."
REASONING_TEXT = "Let me think about it."
REASONING_SIGNATURE = "EqMBCkYIBxgCKkDmockSignatureForReplay0123456789"
WORDS = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit")

_BASE62 = string.digits + string.ascii_letters
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

PROVIDERS = ("OpenAI", "Azure", "Google AI Studio", "DeepInfra", "Parasail")
NATIVE_FINISH = {
    "stop": ("stop", "STOP", "end_turn"),
    "tool_calls": ("tool_calls", "STOP", "tool_use"),
    "length": ("length", "MAX_TOKENS", "max_tokens"),
    "error": ("error",),
}

TOOL_CALLS: tuple[dict[str, Any], ...] = (
    {
        "id": "call_abc123",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Tokyo"}'},
    },
    {
        "id": "call_def456",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    },
)
# Fragments whose concatenation is each call's ``arguments``; the first fragment carries id/name.
TOOL_ARG_FRAGMENTS = (("", '{"city":', '"Tokyo"}'), ("", '{"city":', '"Paris"}'))


# Ids are unique over the mock's life, as OpenRouter's are: a reset re-seeds the request rng, so
# its draws alone repeat, and a gateway keying its ledger by id would mix two callers' calls.
_issued = itertools.count()


def generation_id(rng: random.Random, now: float, prefix: str = "gen") -> str:
    drawn = "".join(rng.choice(_BASE62) for _ in range(20))
    number, unique = next(_issued), ""
    for _ in range(6):
        number, digit = divmod(number, len(_BASE62))
        unique = _BASE62[digit] + unique
    return f"{prefix}-{int(now)}-{drawn[:14]}{unique}"


def url_annotations(end_index: int) -> list[dict[str, Any]]:
    citation = {
        "url": "https://ex.com/a",
        "title": "A",
        "content": "snippet",
        "start_index": 0,
        "end_index": end_index,
    }
    return [{"type": "url_citation", "url_citation": citation}]


@functools.lru_cache(maxsize=8)
def image_url(size: int) -> str:
    """A PNG-looking data URL whose base64 part is about ``size`` bytes (0 = the tiny default)."""
    if size <= 0:
        return TINY_PNG_URL
    raw_len = max(len(_PNG_SIGNATURE), size * 3 // 4)
    filler = bytes(range(256)) * (raw_len // 256 + 1)
    raw = _PNG_SIGNATURE + filler[: raw_len - len(_PNG_SIGNATURE)]
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.lru_cache(maxsize=1)
def picture_url(side: int = 64) -> str:
    """A real PNG a browser can show (a sun over a sea, ``side`` pixels square): the tiny
    default is only the PNG signature, which pins the legacy transcripts but decodes to nothing."""
    rows = []
    for y in range(side):
        row = bytearray([0])  # filter type: none
        for x in range(side):
            if (x - side * 0.6) ** 2 + (y - side * 0.4) ** 2 < (side * 0.18) ** 2:
                pixel = (250, 200, 60)
            elif y > side * 0.62:
                pixel = (30, 70 + y, 140 + y // 2)
            else:
                pixel = (120 + y * 2, 150 + y, 230)
            row += bytes(min(255, c) for c in pixel)
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB
    png = (
        _PNG_SIGNATURE
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _png_chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def image_item(size: int, picture: bool = False) -> dict[str, Any]:
    url = picture_url() if picture else image_url(size)
    return {"type": "image_url", "image_url": {"url": url}, "index": 0}


def reasoning_details(pieces: list[str]) -> list[dict[str, Any]]:
    """Reasoning pieces; the last item carries the signature that clients must replay unmodified."""
    items: list[dict[str, Any]] = [
        {"type": "reasoning.text", "text": piece, "format": "anthropic-claude-v1", "index": 0}
        for piece in pieces
    ]
    if items:
        items[-1]["signature"] = REASONING_SIGNATURE
    return items


def generated_words(count: int) -> list[str]:
    return [f"{WORDS[i % len(WORDS)]} " for i in range(count)]


def split_text(text: str, size: int = 3) -> list[str]:
    """Split custom content into deltas of ``size`` characters (never splits a code point)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _cost(tokens: int, price: float) -> float:
    return round(tokens * price, 12)


def usage(
    prompt: int,
    completion: int,
    pricing: tuple[float, float],
    *,
    reasoning_tokens: int = 0,
    image_tokens: int = 0,
) -> dict[str, Any]:
    prompt_cost = _cost(prompt, pricing[0])
    completion_cost = _cost(completion, pricing[1])
    cost = round(prompt_cost + completion_cost, 12)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost": cost,
        "is_byok": False,
        "prompt_tokens_details": {
            "cached_tokens": 0,
            "cache_write_tokens": 0,
            "audio_tokens": 0,
            "video_tokens": 0,
        },
        "cost_details": {
            "upstream_inference_cost": cost,
            "upstream_inference_prompt_cost": prompt_cost,
            "upstream_inference_completions_cost": completion_cost,
        },
        "completion_tokens_details": {
            "reasoning_tokens": reasoning_tokens,
            "image_tokens": image_tokens,
            "audio_tokens": 0,
        },
    }


def embedding_usage(tokens: int, price: float) -> dict[str, Any]:
    return {"prompt_tokens": tokens, "total_tokens": tokens, "cost": _cost(tokens, price)}


def mask_key(key: str) -> str:
    return f"{key[:11]}...{key[-3:]}" if len(key) > 14 else key

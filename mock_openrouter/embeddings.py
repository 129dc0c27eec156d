"""``POST /embeddings``: deterministic unit vectors from a hash of each input.

Values are rounded through float32, so the ``float`` and ``base64`` (little-endian float32) forms
of one input decode to identical numbers. Token-id input answers ``200`` with ``data: []``, as
upstream has been seen to. Parameters: ``vector=0.5,1,-0.25`` (fixed vector for every input, to
reproduce a transcript), ``echo_model=1`` (echo the slug instead of the native model name),
``prompt_tokens``. Faults that apply: ``error``, ``nonstream_200_error``, ``drop``,
``slow_headers``, ``embeddings_empty``.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import struct
from typing import Any

import orjson

from . import payloads as p
from .catalog import EMBEDDING_PRICE
from .config import MockConfig
from .dsl import ScenarioSpec
from .errors import http_error, parse_code
from .plan import Abort, Plan, Step, Write
from .script import JSON, base_headers, json_plan
from .variants import Knobs

DEFAULT_DIMENSIONS = 8  # small on purpose: tests compare whole vectors
MAX_DIMENSIONS = 8192


def _float32(values: list[float]) -> list[float]:
    fmt = f"<{len(values)}f"
    return list(struct.unpack(fmt, struct.pack(fmt, *values)))


def embedding_vector(text: str, dimensions: int) -> list[float]:
    digest = hashlib.shake_256(text.encode()).digest(4 * dimensions)
    raw = [n / 2**31 - 1.0 for n in struct.unpack(f"<{dimensions}I", digest)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return _float32([x / norm for x in raw])


def encode_base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def _inputs(value: Any) -> list[str] | None:
    """String inputs to embed; None means token-id input (answered with empty data)."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value:
        return []
    if all(isinstance(v, str) for v in value):
        return list(value)
    if all(
        isinstance(v, int) or (isinstance(v, list) and all(isinstance(t, int) for t in v))
        for v in value
    ):
        return None
    return [orjson.dumps(v).decode() for v in value]


def _fixed_vector(spec: ScenarioSpec) -> list[float] | None:
    raw = spec.params.get("vector")
    if not raw:
        return None
    try:
        return _float32([float(x) for x in raw.split(",")])
    except ValueError:
        return None


def build_embeddings_plan(
    spec: ScenarioSpec, request: dict[str, Any], cfg: MockConfig, rng: random.Random, now: float
) -> Plan:
    model = str(request.get("model") or "openai/text-embedding-3-small")
    knobs = Knobs.resolve(cfg, spec)
    if "error" in (spec.name, spec.params.get("fault")):
        status, body, extra = http_error(spec, model, now)
        return json_plan(status, body, "error", rng, extra, knobs.header_delay_s)
    if "input" not in request:
        body = {"error": {"message": "Input is required", "code": 400}, "user_id": "user_2mockUser"}
        return json_plan(400, body, "embeddings", rng, None, knobs.header_delay_s)
    if spec.name == "nonstream_200_error":
        code = parse_code(spec.params.get("code"), 400)
        error = {"message": spec.params.get("message", "Provider returned error"), "code": code}
        return json_plan(200, {"error": error}, spec.name, rng, None, knobs.header_delay_s)

    dims = request.get("dimensions")
    dimensions = (
        dims if isinstance(dims, int) and 0 < dims <= MAX_DIMENSIONS else DEFAULT_DIMENSIONS
    )
    as_base64 = request.get("encoding_format") == "base64"
    inputs = _inputs(request.get("input"))
    fixed = _fixed_vector(spec)
    data: list[dict[str, Any]] = []
    if inputs is not None and spec.name != "embeddings_empty":
        for index, text in enumerate(inputs):
            vector = fixed if fixed is not None else embedding_vector(text, dimensions)
            embedding: list[float] | str = encode_base64(vector) if as_base64 else vector
            data.append({"object": "embedding", "embedding": embedding, "index": index})
    tokens = spec.get_int("prompt_tokens", p.EMBEDDING_PROMPT_TOKENS) if data else 0
    body = {
        "id": p.generation_id(rng, now, "gen-emb"),
        "object": "list",
        "data": data,
        "model": model if spec.get_flag("echo_model") else model.rpartition("/")[2],
        "usage": p.embedding_usage(tokens, float(EMBEDDING_PRICE)),
        "provider": "OpenAI",
    }
    scenario = "embeddings" if data or spec.name != "embeddings_empty" else "embeddings_empty"
    if spec.name == "drop":
        encoded = orjson.dumps(body)
        steps: list[Step] = [Write(encoded[: len(encoded) // 2]), Abort()]
        return Plan(200, base_headers(rng, JSON), steps, "drop", header_delay=knobs.header_delay_s)
    plan = json_plan(200, body, scenario, rng, None, knobs.header_delay_s)
    plan.prompt_tokens = tokens
    plan.cost = float(body["usage"]["cost"])
    return plan

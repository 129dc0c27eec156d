"""Benchmark fast path (``--bench``): precomputed bytes, no journal, no per-request JSON encoding.

Only plain ``text`` requests take this path (any model, or ``mock/text?tokens=N&tpot_ms=M
&ttft_ms=K&comments=C``); everything else falls through to the normal, journal-less path. Plans are
built once per (model string, stream) with every random variant pinned, then replayed: the only
per-request work is parsing the request JSON and the ASGI sends. With no gaps (the bench default
``tpot_ms=0``) the whole body goes out in one write and no disconnect watcher task is started.
"""

from __future__ import annotations

import random
import time

import orjson
from starlette.types import Receive, Scope, Send

from .dsl import ScenarioSpec, model_spec
from .executor import run_plan
from .journal import JournalEntry
from .plan import Plan, Sleep, Step, Write
from .script import build_chat_plan
from .state import MockState

CACHE_MAX = 512
DEFAULT_STREAM_TOKENS = "20"
_PINNED = {
    "usage_form": "U1",
    "empty_first": "0",
    "provider": "1",
    "fingerprint": "0",
    "native": "1",
    "comments": "1",
    "ws": "1",
    "write_split": "one_per_event",
    "crlf": "0",
    "gzip": "0",
}
_BENCH_PARAMS = frozenset({"tokens", "ttft_ms", "tpot_ms", "comments", "text", "keepalive_ms"})


def _merge_adjacent(steps: list[Step]) -> list[Step]:
    out: list[Step] = []
    for step in steps:
        if isinstance(step, Write) and out and isinstance(out[-1], Write):
            prev = out[-1]
            out[-1] = Write(prev.data + step.data, prev.tokens + step.tokens)
        else:
            out.append(step)
    return out


class BenchPath:
    def __init__(self, state: MockState) -> None:
        self.state = state
        self._plans: dict[tuple[str, bool, int], Plan | None] = {}

    def _build(self, model: str, stream: bool) -> Plan | None:
        spec = model_spec(model)
        if spec.name != "text" or not set(spec.params) <= _BENCH_PARAMS:
            return None
        defaults = {"tokens": DEFAULT_STREAM_TOKENS} if stream else {}
        params = {**_PINNED, **defaults, **spec.params}
        pinned = ScenarioSpec("text", params, spec.requested, "bench")
        cfg = self.state.config
        rng = random.Random(cfg.seed)
        plan = build_chat_plan(
            pinned, {"model": model, "stream": stream}, cfg, rng, time.time(), False
        )
        plan.steps = _merge_adjacent(
            [s for s in plan.steps if not (isinstance(s, Sleep) and s.seconds <= 0)]
        )
        return plan

    def plan_for(self, scope: Scope, body: bytes) -> Plan | None:
        if scope["method"] != "POST" or scope["path"] != "/api/v1/chat/completions":
            return None
        authorised = False
        for name, value in scope["headers"]:
            if name == b"x-mock-scenario":
                return None
            if name == b"authorization":
                authorised = len(value) > 7 and value != b"Bearer sk-or-invalid"
        if not authorised or self.state.queue.pending():
            return None
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(request, dict):
            return None
        key = (
            str(request.get("model") or ""),
            request.get("stream") is True,
            self.state.config_version,
        )
        if key not in self._plans:
            if len(self._plans) >= CACHE_MAX:
                self._plans.clear()
            self._plans[key] = self._build(key[0], key[1])
        return self._plans[key]

    async def run(self, plan: Plan, scope: Scope, receive: Receive, send: Send) -> None:
        stats = self.state.stats
        if len(plan.steps) == 1 and isinstance(plan.steps[0], Write):
            data = plan.steps[0].data
            await send(
                {"type": "http.response.start", "status": plan.status, "headers": plan.headers}
            )
            await send({"type": "http.response.body", "body": data, "more_body": False})
            stats.completed += 1
            stats.bytes_sent += len(data)
            return
        # Gaps were asked for: run it like any plan so a client abort still stops the stream.
        entry = JournalEntry(0, "POST", scope["path"], "", {}, "", None, time.time())
        await run_plan(plan, entry, self.state, receive, send)

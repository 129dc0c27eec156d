"""The mock's ASGI application: raw ASGI for ``/api/v1/*``, a Starlette app for ``/__mock/*``.

The upstream routes bypass Starlette's request/response classes on purpose: they need exact control
of every body write (splits, pauses, aborts) and a ``receive()`` watcher for disconnects, and in
benchmark mode the fewest layers possible between uvicorn and precomputed bytes.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Receive, Scope, Send

from .api import plan_request
from .bench import BenchPath
from .config import MockConfig
from .control import create_control_app
from .executor import read_body, run_plan
from .journal import JournalEntry, decode_headers, parse_json
from .state import MockState

API_PREFIX = "/api/v1/"


class MockOpenRouter:
    """The ASGI callable; ``state`` is public so an in-process host can inspect it."""

    def __init__(self, config: MockConfig) -> None:
        self.state = MockState(config)
        self.control: ASGIApp = create_control_app(self.state)
        self.bench = BenchPath(self.state) if config.bench else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.control(scope, receive, send)
            return
        arrived = time.time()
        body = await read_body(receive)
        if body is None:
            return
        stats = self.state.stats
        stats.requests += 1
        stats.by_path[scope["path"]] += 1
        if self.bench is not None:
            plan = self.bench.plan_for(scope, body)
            if plan is not None:
                await self.bench.run(plan, scope, receive, send)
                return
        await self._handle(scope, receive, send, body, arrived)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, body: bytes, arrived: float
    ) -> None:
        state = self.state
        entry = JournalEntry(
            seq=state.journal.next_seq(),
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=decode_headers(scope["headers"]),
            body=body.decode("utf-8", errors="replace"),
            json=parse_json(body),
            arrived_at=arrived,
        )
        state.journal.add(entry)
        plan = plan_request(state, entry, state.rng_for(entry.seq))
        entry.scenario = plan.scenario
        await run_plan(plan, entry, state, receive, send)


def create_app(config: MockConfig | None = None) -> MockOpenRouter:
    return MockOpenRouter(config or MockConfig())

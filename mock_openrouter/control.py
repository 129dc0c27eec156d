"""The ``/__mock/*`` control plane (no auth): journal, queue, config, reset and stats."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import __version__
from .state import MockState


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def create_control_app(state: MockState) -> Starlette:
    async def list_requests(_: Request) -> Response:
        """Every journal entry, oldest first."""
        return _json(state.journal.entries())

    async def clear_requests(_: Request) -> Response:
        """Forget the journal (sequence numbers keep counting)."""
        state.journal.clear()
        return Response(status_code=204)

    async def enqueue(request: Request) -> Response:
        """Queue scenarios for the next requests matching ``match``."""
        data = await _body(request)
        responses = data.get("responses")
        if not isinstance(responses, list) or not all(isinstance(r, dict) for r in responses):
            return _json({"error": "responses must be a list of scenario objects"}, 400)
        match = data.get("match") if isinstance(data.get("match"), dict) else {}
        queued = state.queue.enqueue(match or {}, responses)
        return _json({"queued": queued, "pending": state.queue.pending()})

    async def reset(_: Request) -> Response:
        """Clear the queue, the journal, stats and config overrides."""
        state.reset()
        return _json({"ok": True, "config": state.config.as_dict()})

    async def get_config(_: Request) -> Response:
        """The current defaults."""
        return _json(state.config.as_dict())

    async def set_config(request: Request) -> Response:
        """Set defaults such as seed, ttft_ms, tpot_ms, keepalive_ms."""
        try:
            unknown = state.update_config(await _body(request))
        except (TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        if unknown:
            return _json({"error": f"unknown config keys: {sorted(unknown)}"}, 400)
        return _json(state.config.as_dict())

    async def stats(_: Request) -> Response:
        """Counters, server-side first-byte times and the run's config."""
        data = state.stats.as_dict()
        data.update(version=__version__, seed=state.config.seed, bench=state.config.bench)
        data.update(queue_pending=state.queue.pending(), config=state.config.as_dict())
        return _json(data)

    return Starlette(
        routes=[
            Route("/__mock/requests", list_requests, methods=["GET"]),
            Route("/__mock/requests", clear_requests, methods=["DELETE"]),
            Route("/__mock/enqueue", enqueue, methods=["POST"]),
            Route("/__mock/reset", reset, methods=["POST"]),
            Route("/__mock/config", get_config, methods=["GET"]),
            Route("/__mock/config", set_config, methods=["POST"]),
            Route("/__mock/stats", stats, methods=["GET"]),
        ]
    )

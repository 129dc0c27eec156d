"""Runs a ``Plan`` over raw ASGI while watching for the client going away.

Uvicorn silently discards sends after a disconnect, so a plain loop would never notice; instead a
watcher task waits on ``receive()`` for ``http.disconnect`` and the producer is cancelled the
moment it arrives. The disconnect time is taken inside the watcher, before any scheduling delay.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from starlette.types import Message, Receive, Send

from .journal import JournalEntry
from .plan import Plan, Sleep, Write
from .state import MockState


class MockDropError(Exception):
    """Raised inside the ASGI app so uvicorn closes the connection in the middle of the body."""


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client left before sending it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _wait_disconnect(receive: Receive) -> float:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return time.time()


async def _produce(plan: Plan, entry: JournalEntry, send: Send, state: MockState) -> None:
    if plan.header_delay > 0:
        await asyncio.sleep(plan.header_delay)
    await send({"type": "http.response.start", "status": plan.status, "headers": plan.headers})
    entry.status = plan.status
    for step in plan.steps:
        if isinstance(step, Write):
            await send({"type": "http.response.body", "body": step.data, "more_body": True})
            now = time.time()
            if entry.first_byte_at is None:
                entry.first_byte_at = now
                state.stats.record_ttfb(now - entry.arrived_at)
            entry.last_byte_at = now
            entry.bytes_sent += len(step.data)
            entry.billed_tokens += step.tokens
            state.stats.bytes_sent += len(step.data)
        elif isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
        else:
            raise MockDropError
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def run_plan(
    plan: Plan, entry: JournalEntry, state: MockState, receive: Receive, send: Send
) -> None:
    stats = state.stats
    stats.in_flight += 1
    entry.generation_id = plan.generation_id
    entry.stream = plan.stream
    producer = asyncio.ensure_future(_produce(plan, entry, send, state))
    watcher = asyncio.ensure_future(_wait_disconnect(receive))
    drop: MockDropError | None = None
    try:
        await asyncio.wait({producer, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if producer.done():
            watcher.cancel()
            exc = producer.exception()
            if isinstance(exc, MockDropError):
                entry.ended, drop = "fault", exc
                stats.faults += 1
            elif exc is not None:
                raise exc
            else:
                entry.ended = "completed"
                stats.completed += 1
        else:
            entry.disconnect_at = watcher.result()
            entry.ended = "client_disconnect"
            stats.client_disconnects += 1
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
    finally:
        for task in (producer, watcher):
            task.cancel()
        stats.in_flight -= 1
        _settle(plan, entry, state)
    if drop is not None:
        raise drop


def _settle(plan: Plan, entry: JournalEntry, state: MockState) -> None:
    """Turn the tokens delivered into "billed" tokens: a cancelled stream is billed for what
    was delivered."""
    sent = entry.billed_tokens
    if plan.status >= 400 or plan.prompt_tokens + plan.completion_tokens == 0:
        billed = 0
    elif entry.ended == "client_disconnect" and (
        not plan.stream or not state.config.provider_supports_cancel
    ):
        billed = plan.prompt_tokens + plan.completion_tokens
    else:
        billed = plan.prompt_tokens + sent
    entry.billed_tokens = billed
    full = plan.prompt_tokens + plan.completion_tokens
    cost = plan.cost * billed / full if full else 0.0
    state.key_usage += cost
    if plan.generation_id is not None and plan.status == 200:
        state.remember_generation(plan.generation_id, _generation(plan, entry, billed, cost))


def _generation(plan: Plan, entry: JournalEntry, billed: int, cost: float) -> dict[str, Any]:
    created = dt.datetime.fromtimestamp(entry.arrived_at, tz=dt.UTC).isoformat()
    latency = entry.last_byte_at - entry.arrived_at if entry.last_byte_at else 0.0
    completion = max(0, billed - plan.prompt_tokens) if billed else 0
    return {
        "id": plan.generation_id,
        "model": plan.model,
        "provider_name": plan.provider,
        "created_at": created,
        "streamed": plan.stream,
        "cancelled": entry.ended == "client_disconnect",
        "finish_reason": plan.finish_reason,
        "native_finish_reason": plan.finish_reason,
        "generation_time": int(latency * 1000),
        "latency": int(latency * 1000),
        "moderation_latency": None,
        "tokens_prompt": plan.prompt_tokens,
        "tokens_completion": completion,
        "native_tokens_prompt": plan.prompt_tokens,
        "native_tokens_completion": completion,
        "native_tokens_reasoning": 0,
        "total_cost": round(cost, 12),
        "usage": round(cost, 12),
        "upstream_inference_cost": None,
        "is_byok": False,
        "origin": entry.headers.get("http-referer", ""),
        "http_referer": entry.headers.get("http-referer"),
        "user_agent": entry.headers.get("user-agent"),
        "api_type": "completions",
        "_ready_at": time.time(),
    }

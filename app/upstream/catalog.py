"""OpenRouter's model catalog, cached in the process (the legacy shape made of it is pinned
by tests/routers/test_media.py).

Fresh for an hour; concurrent misses share one fetch; when the upstream fails a stale copy is
served (and retried no sooner than 5 s later); with no copy at all the caller gets the failure,
and the next 5 s fail fast instead of hammering a down upstream.
"""

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from app.json_shape import Json
from app.upstream.client import UpstreamClient
from app.upstream.failures import UpstreamFailure
from app.upstream.listing import Listings

T = TypeVar("T")

CATALOG_TTL_S = 3600.0
RETRY_AFTER_FAILURE_S = 5.0


class ModelCatalog:
    def __init__(self, upstream: UpstreamClient, ttl_s: float = CATALOG_TTL_S) -> None:
        self._upstream = upstream
        self._ttl_s = ttl_s
        self._models: list[Json] | None = None
        self._expires_at = 0.0
        self._breaker_until = 0.0
        self._inflight: asyncio.Future[list[Json]] | None = None
        self._derived: dict[str, tuple[int, Any]] = {}
        self._generation = 0  # bumps on every successful fetch
        # The other catalog reads (providers, the account's models, a model's endpoints).
        self.listings = Listings(upstream)

    async def models(self) -> list[Json]:
        """Raw catalog entries (`/models?output_modalities=all`)."""
        now = time.monotonic()
        if self._models is not None and now < self._expires_at:
            return self._models
        if self._models is None and now < self._breaker_until:
            raise UpstreamFailure("status", status=503)
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._refresh())
            self._inflight.add_done_callback(self._clear_inflight)
        return await asyncio.shield(self._inflight)

    def _clear_inflight(self, _future: "asyncio.Future[list[Json]]") -> None:
        self._inflight = None

    async def _refresh(self) -> list[Json]:
        try:
            answer = await self._upstream.get_json("models", {"output_modalities": "all"})
            data = answer.get("data")
            if not isinstance(data, list):
                raise UpstreamFailure("invalid", status=200)
        except UpstreamFailure:
            now = time.monotonic()
            if self._models is not None:
                self._expires_at = now + RETRY_AFTER_FAILURE_S
                return self._models
            self._breaker_until = now + RETRY_AFTER_FAILURE_S
            raise
        self._models = [m for m in data if isinstance(m, dict)]
        self._expires_at = time.monotonic() + self._ttl_s
        self._generation += 1
        return self._models

    def derived_now(self, name: str) -> Any:
        """What `derived(name, …)` would return at once: the value built from the catalog while
        it is fresh, or None (then `derived` fetches or builds). Saves the hot path an await."""
        if self._models is None or time.monotonic() >= self._expires_at:
            return None
        cached = self._derived.get(name)
        return cached[1] if cached is not None and cached[0] == self._generation else None

    async def derived(self, name: str, build: Callable[[list[Json]], T]) -> T:
        """`build(models)`, computed once per fetched catalog (e.g. a surface's serialised list)."""
        models = await self.models()
        cached = self._derived.get(name)
        if cached is not None and cached[0] == self._generation:
            value: T = cached[1]
            return value
        value = build(models)
        self._derived[name] = (self._generation, value)
        return value

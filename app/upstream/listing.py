"""Upstream answers that are the same for every caller, cached in the process as the model
catalog is (app/upstream/catalog.py): the provider list, the account's model list, a model's
endpoints.

Each answer is fresh for its TTL; concurrent misses share one fetch; when the upstream fails a
stale copy is served (and retried no sooner than RETRY_AFTER_FAILURE_S later). At most
MAX_ENTRIES answers are kept (a model's endpoints are one per model, and which models are asked
about is up to callers), the least recently used leaving first. A failure with nothing cached,
a 404 for an unknown model say, is raised to the caller and not remembered.
"""

import asyncio
import time
from collections import OrderedDict

from app.json_shape import Json
from app.upstream.client import UpstreamClient
from app.upstream.failures import UpstreamFailure

RETRY_AFTER_FAILURE_S = 5.0
MAX_ENTRIES = 256

Key = tuple[str, tuple[tuple[str, str], ...]]


class Listings:
    def __init__(self, upstream: UpstreamClient, max_entries: int = MAX_ENTRIES) -> None:
        self._upstream = upstream
        self._max_entries = max_entries
        self._answers: OrderedDict[Key, tuple[Json, float]] = OrderedDict()
        self._inflight: dict[Key, asyncio.Future[Json]] = {}

    async def get(self, path: str, ttl_s: float, params: dict[str, str] | None = None) -> Json:
        """`GET path?params` from the upstream, or its copy while fresh."""
        key: Key = (path, tuple(sorted((params or {}).items())))
        cached = self._answers.get(key)
        if cached is not None and time.monotonic() < cached[1]:
            self._answers.move_to_end(key)
            return cached[0]
        future = self._inflight.get(key)
        if future is None:
            future = self._inflight[key] = asyncio.ensure_future(self._fetch(key, ttl_s))
            future.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(future)

    async def _fetch(self, key: Key, ttl_s: float) -> Json:
        path, params = key
        try:
            answer = await self._upstream.get_json(path, dict(params) or None)
        except UpstreamFailure:
            stale = self._answers.get(key)
            if stale is None:
                raise
            self._answers[key] = (stale[0], time.monotonic() + RETRY_AFTER_FAILURE_S)
            return stale[0]
        self._answers[key] = (answer, time.monotonic() + ttl_s)
        self._answers.move_to_end(key)
        while len(self._answers) > self._max_entries:
            self._answers.popitem(last=False)
        return answer

"""A small table read whole and kept in memory, for the hot path: read at most every `ttl_s`
(at once after `invalidate`, which a write through this process calls), one read at a time. A
write during a read invalidates it again, so the next call reads anew. A database that fails a
read leaves the last value in use and is not asked again for `ttl_s`; the outage is logged once,
and its end too. `get` is None while no read has ever succeeded: the caller decides.

The AI configurations (app/ledger/configurations.py) and the per-user limits
(app/quotas/overrides.py) are read this way.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Row, Select
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("app.ledger")

T = TypeVar("T")


class Snapshot(Generic[T]):
    def __init__(
        self,
        engine: AsyncEngine,
        query: Select[Any],
        build: Callable[[Sequence[Row[Any]]], T],
        *,
        name: str,
        ttl_s: float,
        timeout_s: float,
    ) -> None:
        self._engine = engine
        self._query = query
        self._build = build
        self._name = name
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._value: T | None = None
        self._expires = 0.0
        self._generation = 0
        self._failing = False
        self._lock = asyncio.Lock()

    async def get(self) -> T | None:
        """The value (the hot path: an attribute, mostly)."""
        if time.monotonic() >= self._expires:
            await self._reload()
        return self._value

    def invalidate(self) -> None:
        self._generation += 1
        self._expires = 0.0

    async def _reload(self) -> None:
        async with self._lock:
            if time.monotonic() < self._expires:
                return  # another call read it while this one waited
            generation = self._generation
            try:
                async with asyncio.timeout(self._timeout_s), self._engine.connect() as conn:
                    rows = (await conn.execute(self._query)).all()
            except Exception as err:  # any database failure: keep what there is
                if not self._failing:  # once per outage, not once per `ttl_s`
                    self._failing = True
                    log.warning("%s: cannot read (%s)", self._name, type(err).__name__)
                self._expires = time.monotonic() + self._ttl_s
                return
            if self._failing:
                self._failing = False
                log.warning("%s: readable again", self._name)
            self._value = self._build(rows)
            if generation == self._generation:
                self._expires = time.monotonic() + self._ttl_s

"""An admin's limits per user, over the QUOTA_* defaults, kept in the ledger's database
(`ai_quotas`) and read on the hot path from a snapshot of every row (app/ledger/snapshot.py),
reloaded at most every `ttl_s` (at once after a change through this process). Another process
sees a change within `ttl_s`. A database that fails a reload leaves the last snapshot in use
(with none yet, the defaults apply), logged once per outage. Overrides are meant for the
exceptions (a generous tester, a blocked abuser), not one row per user: the snapshot holds them
all.

A field is NULL to keep the default, a number to replace it (0 refuses every call), or
UNLIMITED (-1) to lift it for this user.
"""

import logging
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from app.ledger.connections import connected
from app.ledger.schema import UNLIMITED, ai_quotas
from app.ledger.snapshot import Snapshot
from app.quotas.limits import Limits

log = logging.getLogger("app.quotas")

CACHE_TTL_S = 5.0
LOOKUP_TIMEOUT_S = 2.0
FIELDS = ("rpm", "tokens_per_day", "usd_per_day", "usd_per_month", "concurrent")


@dataclass(frozen=True, slots=True)
class Override:
    user_id: str
    rpm: int | None = None
    tokens_per_day: int | None = None
    usd_per_day: float | None = None
    usd_per_month: float | None = None
    concurrent: int | None = None
    updated_at: datetime | None = None

    def over(self, defaults: Limits) -> Limits:
        """The limits this user gets."""
        changes: dict[str, Any] = {}
        for name in FIELDS:
            value = getattr(self, name)
            if value is not None:
                changes[name] = None if value == UNLIMITED else value
        return replace(defaults, **changes)


def _override(row: Any) -> Override:
    values = {f.name: row[f.name] for f in fields(Override)}
    if values["updated_at"] is not None and values["updated_at"].tzinfo is None:
        values["updated_at"] = values["updated_at"].replace(tzinfo=UTC)  # SQLite keeps no zone
    return Override(**values)


class OverrideStore:
    def __init__(self, engine: AsyncEngine, ttl_s: float = CACHE_TTL_S) -> None:
        self._engine = engine
        self._all = Snapshot(
            engine,
            select(ai_quotas),
            lambda rows: {row.user_id: _override(row._mapping) for row in rows},
            name="quota overrides",
            ttl_s=ttl_s,
            timeout_s=LOOKUP_TIMEOUT_S,
        )

    async def get(self, user_id: str) -> Override | None:
        """The hot path: a dict lookup, mostly. With nothing ever read, the defaults apply."""
        snapshot = await self._all.get()
        return None if snapshot is None else snapshot.get(user_id)

    def _invalidate(self) -> None:
        self._all.invalidate()

    async def put(self, override: Override) -> Override:
        values = {name: getattr(override, name) for name in FIELDS}
        values["updated_at"] = datetime.now(UTC)
        insert = (
            postgresql.insert(ai_quotas)
            if self._engine.dialect.name == "postgresql"
            else sqlite.insert(ai_quotas)
        )
        statement = insert.values(user_id=override.user_id, **values).on_conflict_do_update(
            index_elements=["user_id"], set_=values
        )
        try:
            async with connected(self._engine, write=True) as conn:
                await conn.execute(statement)
        finally:
            self._invalidate()
        return replace(override, updated_at=values["updated_at"])

    async def delete(self, user_id: str) -> bool:
        try:
            async with connected(self._engine, write=True) as conn:
                gone = await conn.execute(delete(ai_quotas).where(ai_quotas.c.user_id == user_id))
        finally:
            self._invalidate()
        return gone.rowcount > 0

    async def one(self, user_id: str) -> Override | None:
        async with connected(self._engine) as conn:
            query = select(ai_quotas).where(ai_quotas.c.user_id == user_id)
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else _override(row)

    async def page(self, limit: int, offset: int) -> tuple[list[Override], int]:
        async with connected(self._engine) as conn:
            query = select(ai_quotas).order_by(ai_quotas.c.user_id).limit(limit).offset(offset)
            rows = (await conn.execute(query)).mappings().all()
            total = await conn.scalar(select(func.count()).select_from(ai_quotas))
        return [_override(r) for r in rows], int(total or 0)

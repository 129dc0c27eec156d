"""AI configurations (the legacy backend's `ai.configs`): the admin routes' reads and writes, and
the active configurations of the hot path, cached.

Every AI call on a gated route asks `ConfigStore.active(model)`. It answers from a snapshot of
all active rows, reloaded at most every `ttl_s` (one query, whatever the number of models) and
at once after a write through the store (`invalidate`). Another process's writes show within
`ttl_s`. A database that fails a reload leaves the last snapshot in use; with none yet,
`ConfigsUnavailable` lets the caller decide (app/ledger/snapshot.py).
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from app.ledger.connections import connected
from app.ledger.queries import BILLABLE
from app.ledger.schema import ai_calls, ai_configurations
from app.ledger.snapshot import Snapshot

log = logging.getLogger("app.ledger")

CACHE_TTL_S = 5.0
LOOKUP_TIMEOUT_S = 5.0


class ConfigsUnavailable(Exception):
    """The configurations could not be read, and none were read before."""


@dataclass(frozen=True, slots=True)
class ActiveConfig:
    id: str
    system_prompt: str | None


@dataclass(frozen=True, slots=True)
class NewConfig:
    model_id: str
    provider: str
    input_modality: Sequence[str]
    output_modality: Sequence[str]
    system_prompt: str | None


class ConfigStore:
    def __init__(self, engine: AsyncEngine, ttl_s: float = CACHE_TTL_S) -> None:
        self._engine = engine
        query = select(
            ai_configurations.c.model_id,
            ai_configurations.c.id,
            ai_configurations.c.system_prompt,
        ).where(ai_configurations.c.is_active)
        self._active = Snapshot(
            engine,
            query,
            lambda rows: {row.model_id: ActiveConfig(row.id, row.system_prompt) for row in rows},
            name="ai configurations",
            ttl_s=ttl_s,
            timeout_s=LOOKUP_TIMEOUT_S,
        )

    async def active(self, model_id: str) -> ActiveConfig | None:
        """The active configuration of `model_id` (the hot path: a dict lookup, mostly)."""
        snapshot = await self._active.get()
        if snapshot is None:
            raise ConfigsUnavailable
        return snapshot.get(model_id)

    def invalidate(self) -> None:
        self._active.invalidate()

    async def upsert(self, config: NewConfig) -> str:
        """Insert, or update the row of the same model id (made active again); its id."""
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "provider": config.provider,
            "input_modality": list(config.input_modality),
            "output_modality": list(config.output_modality),
            "system_prompt": config.system_prompt,
            "is_active": True,
            "updated_at": now,
        }
        new = {"id": str(uuid.uuid4()), "model_id": config.model_id, "created_at": now, **values}
        insert = (
            postgresql.insert(ai_configurations)
            if self._engine.dialect.name == "postgresql"
            else sqlite.insert(ai_configurations)
        )
        statement = (
            insert.values(new)
            .on_conflict_do_update(index_elements=["model_id"], set_=values)
            .returning(ai_configurations.c.id)
        )
        try:
            async with connected(self._engine, write=True) as conn:
                return str((await conn.execute(statement)).scalar_one())
        finally:
            self.invalidate()

    async def set_system_prompt(self, config_id: str, system_prompt: str | None) -> bool:
        """False when there is no configuration `config_id`."""
        return await self._update(config_id, system_prompt=system_prompt)

    async def disable(self, config_id: str) -> bool:
        """False when there is no configuration `config_id`."""
        return await self._update(config_id, is_active=False)

    async def _update(self, config_id: str, **values: Any) -> bool:
        statement = (
            update(ai_configurations)
            .where(ai_configurations.c.id == config_id)
            .values(**values, updated_at=datetime.now(UTC))
        )
        try:
            async with connected(self._engine, write=True) as conn:
                return (await conn.execute(statement)).rowcount > 0
        finally:
            self.invalidate()

    async def list_active(self) -> list[RowMapping]:
        """The active rows, oldest first, each with `usage`: its served calls' sums."""
        usage = (
            select(
                ai_calls.c.config_id,
                func.count().label("requests"),
                func.sum(ai_calls.c.prompt_tokens).label("input_tokens"),
                func.sum(ai_calls.c.completion_tokens).label("output_tokens"),
                func.sum(ai_calls.c.image_count).label("image_count"),
                func.sum(ai_calls.c.cost_usd).label("cost"),
            )
            .where(ai_calls.c.config_id.is_not(None), BILLABLE)
            .group_by(ai_calls.c.config_id)
            .subquery()
        )
        query = (
            select(ai_configurations, usage)
            .outerjoin(usage, usage.c.config_id == ai_configurations.c.id)
            .where(ai_configurations.c.is_active)
            .order_by(ai_configurations.c.created_at, ai_configurations.c.model_id)
        )
        async with connected(self._engine) as conn:
            return [row._mapping for row in await conn.execute(query)]

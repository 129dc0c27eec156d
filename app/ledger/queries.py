"""Reading the ledger: a page of calls, totals with a per-model (or per-user) breakdown, and one
call by its generation id. SQLAlchemy Core, the same statements on SQLite and PostgreSQL.

What counts as usage (`BILLABLE`, also what a configuration's `usageStats` sums): calls answered
with a 2xx (a started stream included, however it ended), since only those can have been billed;
a refused or failed call is in the table but not in these sums, nor is a legacy stream refused
after validation (its 200 carried only the refusal). Time bounds compare `started_at`, start
inclusive and end inclusive. SQLite keeps no time zone, so bounds are turned to UTC before they
are bound and naive values read back are UTC.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.ledger.connections import connected
from app.ledger.schema import ai_calls

UNKNOWN_MODEL = "unknown"
BILLABLE = and_(ai_calls.c.status >= 200, ai_calls.c.status < 300, ai_calls.c.outcome != "refused")


@dataclass(frozen=True, slots=True)
class Scope:
    """Which calls: a time range and, optionally, one user or one configuration."""

    start: datetime | None = None
    end: datetime | None = None
    user_id: str | None = None
    config_id: str | None = None


@dataclass(slots=True)
class Totals:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    image_count: int = 0
    cost: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class Summary:
    totals: Totals
    by_model: dict[str, Totals] = field(default_factory=dict)
    by_user: dict[str, Totals] | None = None


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _conditions(scope: Scope) -> list[ColumnElement[bool]]:
    c = ai_calls.c
    where: list[ColumnElement[bool]] = [BILLABLE]
    if scope.start is not None:
        where.append(c.started_at >= utc(scope.start))
    if scope.end is not None:
        where.append(c.started_at <= utc(scope.end))
    if scope.user_id is not None:
        where.append(c.user_id == scope.user_id)
    if scope.config_id is not None:
        where.append(c.config_id == scope.config_id)
    return where


def _row(mapping: RowMapping) -> dict[str, Any]:
    row = dict(mapping)
    started = row["started_at"]
    if isinstance(started, datetime):
        row["started_at"] = utc(started)
    return row


async def list_calls(
    engine: AsyncEngine, scope: Scope, *, limit: int | None = None, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """The calls in `scope`, newest first, one page of them; and how many there are in all."""
    where = and_(*_conditions(scope))
    page = (
        select(ai_calls).where(where).order_by(ai_calls.c.started_at.desc(), ai_calls.c.id.desc())
    )
    page = page.offset(offset) if limit is None else page.limit(limit).offset(offset)
    async with connected(engine) as connection:
        rows = [_row(r._mapping) for r in await connection.execute(page)]
        total = await connection.scalar(select(func.count()).select_from(ai_calls).where(where))
    return rows, int(total or 0)


def _grouped(key: ColumnElement[Any] | None, where: ColumnElement[bool]) -> Select[Any]:
    c = ai_calls.c
    sums = (
        func.count(),
        func.coalesce(func.sum(c.prompt_tokens), 0),
        func.coalesce(func.sum(c.completion_tokens), 0),
        func.coalesce(func.sum(c.image_count), 0),
        func.coalesce(func.sum(c.cost_usd), 0.0),
    )
    if key is None:
        return select(*sums).where(where)
    return select(key.label("key"), *sums).where(where).group_by(key)


def _totals(values: Any) -> Totals:
    requests, prompt, completion, images, cost = values
    return Totals(int(requests), int(prompt), int(completion), int(images), float(cost))


async def total(engine: AsyncEngine, scope: Scope) -> Totals:
    """Totals over `scope`."""
    async with connected(engine) as connection:
        return _totals((await connection.execute(_grouped(None, and_(*_conditions(scope))))).one())


async def summarize(engine: AsyncEngine, scope: Scope, *, by_user: bool = False) -> Summary:
    """Totals over `scope`, per model (the model asked for, else the one that served), and
    per user when `by_user`."""
    c = ai_calls.c
    where = and_(*_conditions(scope))
    model = func.coalesce(c.requested_model, c.served_model, UNKNOWN_MODEL)
    async with connected(engine) as connection:
        totals = _totals((await connection.execute(_grouped(None, where))).one())
        models = await connection.execute(_grouped(model, where).order_by(model))
        summary = Summary(totals, {str(r[0]): _totals(r[1:]) for r in models})
        if by_user:
            users = await connection.execute(_grouped(c.user_id, where).order_by(c.user_id))
            summary.by_user = {str(r[0]): _totals(r[1:]) for r in users}
    return summary


async def call_by_generation(engine: AsyncEngine, generation_id: str) -> dict[str, Any] | None:
    """The call that made `generation_id` (whatever its outcome), or None."""
    query = select(ai_calls).where(ai_calls.c.generation_id == generation_id).limit(1)
    async with connected(engine) as connection:
        row = (await connection.execute(query)).first()
    return None if row is None else _row(row._mapping)

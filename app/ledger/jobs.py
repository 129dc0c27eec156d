"""Asynchronous jobs in the ledger (video generation, app/v1/videos.py): the submit is an AI
call like any other, its row written by the record stage with the job's id as its
`generation_id`; that row says who owns the job, and takes the job's cost when OpenRouter
reports it, once (a row whose cost is set is never changed again).
"""

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.ledger.connections import connected
from app.ledger.schema import ai_calls


async def job_call(engine: AsyncEngine, route: str, job_id: str) -> dict[str, Any] | None:
    """The submit of job `job_id` on `route` (its user, model, time), or None."""
    c = ai_calls.c
    query = (
        select(c.user_id, c.requested_model, c.started_at, c.cost_usd)
        .where(c.route == route, c.generation_id == job_id, c.status < 300)
        .limit(1)
    )
    async with connected(engine) as connection:
        row = (await connection.execute(query)).first()
    return None if row is None else dict(row._mapping)


async def record_job_cost(engine: AsyncEngine, route: str, job_id: str, cost: float) -> bool:
    """Set the job's cost on its submit's row, unless it is set already; True if this did."""
    c = ai_calls.c
    statement = (
        update(ai_calls)
        .where(c.route == route, c.generation_id == job_id, c.cost_usd.is_(None))
        .values(cost_usd=cost)
    )
    async with connected(engine, write=True) as connection:
        return (await connection.execute(statement)).rowcount > 0

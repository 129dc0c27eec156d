"""The ledger for the app's lifespan: migrate, start the writer, hook it into the record
stage; on shutdown unhook it and write what is queued.

A database that cannot be reached at start-up does not stop the gateway (an outage never fails
an AI call): it starts, says so once, queues the rows, and the writer migrates the schema before
its first write once the database answers. The admin routes answer 503 until then
(app/ledger/connections.py).
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.ledger.connections import first_line
from app.ledger.database import create_engine
from app.ledger.migrate import migrate
from app.ledger.record import record_hook, row_columns
from app.ledger.writer import LedgerWriter
from app.pipeline import Pipeline

log = logging.getLogger("app.ledger")

# How long start-up waits for the database to answer before starting without it.
CONNECT_TIMEOUT_S = 10.0


@asynccontextmanager
async def running_ledger(settings: Settings, pipeline: Pipeline) -> AsyncIterator[LedgerWriter]:
    engine = create_engine(settings)
    try:
        writer = LedgerWriter(
            engine,
            row_columns,
            queue_max=settings.ledger_queue_max,
            batch_size=settings.ledger_batch_size,
            flush_s=settings.ledger_flush_s,
            prepare=await _migrated_or_later(engine, settings),
        )
        writer.start()
        hook = record_hook(writer)
        pipeline.record.append(hook)
        try:
            yield writer
        finally:
            pipeline.record.remove(hook)
            await writer.stop()
    finally:
        await engine.dispose()


async def _migrated_or_later(
    engine: AsyncEngine, settings: Settings
) -> Callable[[], Awaitable[None]] | None:
    """Migrate now (None), or return the migration for the writer when the database cannot
    be reached. Only reaching it is timed: a long migration on a large table is not cut."""
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S), engine.connect():
            pass
    except (SQLAlchemyError, OSError, TimeoutError) as err:
        log.warning(
            "ledger: database unavailable at start-up (%s: %s); serving AI calls anyway, "
            "their rows wait in the queue (LEDGER_QUEUE_MAX=%d) and the schema is migrated "
            "when the database answers",
            type(err).__name__,
            first_line(err) or f"no answer within {CONNECT_TIMEOUT_S:g} s",
            settings.ledger_queue_max,
        )
        return lambda: migrate(engine)
    await migrate(engine)
    return None

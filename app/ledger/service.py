"""The ledger for the app's lifespan: migrate, start the writer, hook it into the record
stage; on shutdown unhook it and write what is queued."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.config import Settings
from app.ledger.database import create_engine
from app.ledger.migrate import migrate
from app.ledger.record import record_hook, row_columns
from app.ledger.writer import LedgerWriter
from app.pipeline import Pipeline


@asynccontextmanager
async def running_ledger(settings: Settings, pipeline: Pipeline) -> AsyncIterator[LedgerWriter]:
    engine = create_engine(settings)
    try:
        await migrate(engine)
        writer = LedgerWriter(
            engine,
            row_columns,
            queue_max=settings.ledger_queue_max,
            batch_size=settings.ledger_batch_size,
            flush_s=settings.ledger_flush_s,
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

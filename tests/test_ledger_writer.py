"""The ledger's writer on its own, against a real SQLite file: rows that keep coming are
written in full batches (one statement each), and what waits less than a batch is written by
the timer or by a flush."""

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event

from app.ledger.database import create_engine
from app.ledger.migrate import migrate
from app.ledger.record import row_columns
from app.ledger.writer import LedgerWriter
from tests.factories import make_settings
from tests.ledger_support import ledger_rows

BATCH = 50
ROWS = 5 * BATCH + 7


def row(n: int) -> tuple[Any, ...]:
    """A queued row as the record hook makes it (app/ledger/record.py)."""
    started = 1_700_000_000.0 + n
    route = "/api/v1/chat/completions"
    return (f"req-{n}", f"gen-{n}", started, "user-1", "authenticated", "user", route,
            "m", "m", "p", 200, "ok", 3, 4, 0, 0, 0, 0.25, 10.0, 10.5, 10.1, None)  # fmt: skip


async def test_rows_that_keep_coming_are_written_in_full_batches(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = create_engine(make_settings(database_url=url))
    await migrate(engine)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statement = args[2]
        if statement.startswith("INSERT INTO ai_calls"):
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    writer = LedgerWriter(engine, row_columns, queue_max=10_000, batch_size=BATCH, flush_s=60)
    writer.start()
    try:
        for n in range(ROWS):
            writer.put(row(n))
            await asyncio.sleep(0.001)  # calls end one at a time, while the writer writes
        assert await writer.flush(5)
    finally:
        await writer.stop()
        await engine.dispose()
    # Full batches and the flush's seven rows; not whatever arrived during each write.
    assert len(statements) == ROWS // BATCH + 1
    rows = await ledger_rows(url)
    assert [r["request_id"] for r in rows] == [f"req-{n}" for n in range(ROWS)]
    assert rows[0]["latency_ms"] == 500
    assert rows[0]["ttft_ms"] == 100
    assert rows[0]["started_at"].timestamp() == 1_700_000_000.0


async def test_fewer_rows_than_a_batch_are_written_by_the_timer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = create_engine(make_settings(database_url=url))
    await migrate(engine)
    writer = LedgerWriter(engine, row_columns, queue_max=100, batch_size=BATCH, flush_s=0.05)
    writer.start()
    try:
        for n in range(3):
            writer.put(row(n))
        for _ in range(100):
            if writer.written == 3:
                break
            await asyncio.sleep(0.02)
        assert writer.written == 3
    finally:
        await writer.stop()
        await engine.dispose()

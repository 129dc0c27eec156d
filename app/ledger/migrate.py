"""Alembic, run from the package: the scripts live in `app/ledger/migrations/` (package data,
so the installed wheel has them) and run on a connection of the gateway's own engine."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.ledger.connections import first_line
from app.ledger.database import create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The PostgreSQL advisory lock every gateway process takes to migrate ("AIGW").
LOCK_KEY = 0x41494757
# How long an SQLite migration waits for another process's to finish.
SQLITE_WAIT_MS = 60_000


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the ledger's schema to the newest revision (nothing to do when it is there)."""
    async with engine.begin() as connection:
        await _one_at_a_time(connection)
        await connection.run_sync(_upgrade)


async def _one_at_a_time(connection: AsyncConnection) -> None:
    """Processes that start together (replicas, workers) migrate one after the other: each
    waits here until the one before has committed, then finds the schema at its revision.
    Without it two of them created the same tables at once and one failed to start."""
    if connection.dialect.name == "postgresql":
        # Held until this transaction ends.
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        return
    # SQLite: the file's write lock, taken now rather than at the first write, so the whole
    # migration (whose DDL sqlite3 would otherwise run outside any transaction) is one.
    await connection.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_WAIT_MS}")
    await connection.exec_driver_sql("BEGIN IMMEDIATE")


async def migrate_database(settings: Settings) -> None:
    """`ai-gateway migrate`: the schema of the database Settings name, and nothing else. A
    database it cannot reach ends it with one line and status 1, not a traceback."""
    engine = create_engine(settings)
    try:
        await migrate(engine)
    except (SQLAlchemyError, OSError) as err:
        raise SystemExit(
            f"ai-gateway migrate: the database refused or could not be reached "
            f"({type(err).__name__}: {first_line(err)})"
        ) from None
    finally:
        await engine.dispose()

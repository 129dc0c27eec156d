"""Alembic, run from the package: the scripts live in `app/ledger/migrations/` (package data,
so the installed wheel has them) and run on a connection of the gateway's own engine."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.ledger.connections import first_line
from app.ledger.database import create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the ledger's schema to the newest revision (nothing to do when it is there)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def migrate_database(settings: Settings) -> None:
    """`ai-gateway migrate`: the schema of the database Settings name, and nothing else. A
    database it cannot reach ends it with one line and status 1, not a traceback."""
    engine = create_engine(settings)
    try:
        await migrate(engine)
    except (SQLAlchemyError, OSError) as err:
        raise SystemExit(
            f"ai-gateway migrate: cannot reach the database ({type(err).__name__}: "
            f"{first_line(err)})"
        ) from None
    finally:
        await engine.dispose()

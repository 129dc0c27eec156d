"""The ledger's database from Settings: an SQLite file under DATA_DIR unless DATABASE_URL names
another; `postgresql://` (or `postgres://`) is PostgreSQL through asyncpg."""

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.config import Settings

SQLITE_FILE = "ledger.db"


def database_url(settings: Settings) -> str:
    """The SQLAlchemy async URL; creates DATA_DIR (or the SQLite file's folder) if missing."""
    raw = settings.database_url
    if raw is None:
        data_dir = Path(settings.data_dir)
        _make_folder(data_dir)
        return f"sqlite+aiosqlite:///{data_dir / SQLITE_FILE}"
    scheme, _, rest = raw.partition("://")
    base = scheme.partition("+")[0]
    if base in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    url = f"sqlite+aiosqlite://{rest}"
    database = make_url(url).database
    if database and database != ":memory:":
        _make_folder(Path(database).parent)
    return url


def _make_folder(folder: Path) -> None:
    """A folder that cannot be made is not an error here: opening the file then fails, and the
    ledger reports that as the database being unavailable (app/ledger/service.py)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass


def create_engine(settings: Settings) -> AsyncEngine:
    # pool_pre_ping: after a database outage, a pooled connection is dead; find out before
    # a batch is sent on it rather than losing a round of retries to it.
    engine = create_async_engine(database_url(settings), pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_for_appends)
    return engine


def _sqlite_for_appends(connection: Any, _record: Any) -> None:
    """Write-ahead log, synced at checkpoints: a batch commit appends to one file instead of
    creating, syncing and deleting a rollback journal. A crash of the machine (not of the
    process) may lose the last second's batch; the queue already risks as much."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()

"""What the ledger's tests share: a PostgreSQL schema of their own in the real database `test`,
reading the rows back, and a TCP forwarder a test can cut to play a database outage."""

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.ledger.database import create_engine
from app.ledger.schema import ai_calls
from tests.factories import make_settings

PG_HOST, PG_PORT, PG_DATABASE, PG_ADMIN = "127.0.0.1", 5432, "test", "postgres"


@asynccontextmanager
async def postgres_role() -> AsyncIterator[str]:
    """A fresh role owning a schema of its name in `test`: its default search_path ("$user")
    puts the ledger's tables there, so test runs never share a table. Yields the role."""
    role = f"ledger_{secrets.token_hex(6)}"
    admin = create_async_engine(
        f"postgresql+asyncpg://{PG_ADMIN}@{PG_HOST}:{PG_PORT}/{PG_DATABASE}",
        isolation_level="AUTOCOMMIT",
    )
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f"CREATE ROLE {role} LOGIN"))
            await connection.execute(text(f"CREATE SCHEMA {role} AUTHORIZATION {role}"))
            # Its own schema only: tables that others left in `public` must not be found first.
            await connection.execute(text(f"ALTER ROLE {role} SET search_path = {role}"))
        yield role
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f"DROP SCHEMA IF EXISTS {role} CASCADE"))
            await connection.execute(text(f"DROP ROLE IF EXISTS {role}"))
        await admin.dispose()


def postgres_url(role: str, port: int = PG_PORT) -> str:
    return f"postgresql://{role}@{PG_HOST}:{port}/{PG_DATABASE}"


async def ledger_rows(database_url: str) -> list[dict[str, Any]]:
    engine = create_engine(make_settings(database_url=database_url))
    try:
        async with engine.connect() as connection:
            result = await connection.execute(select(ai_calls).order_by(ai_calls.c.id))
            return [dict(row._mapping) for row in result]
    finally:
        await engine.dispose()


POLL_S = 0.05


async def wait_for_rows(database_url: str, count: int, within_s: float = 10.0) -> list[Any]:
    """The rows once there are `count`; fails the test after `within_s`."""
    for _ in range(int(within_s / POLL_S)):
        rows = await ledger_rows(database_url)
        if len(rows) >= count:
            return rows
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"fewer than {count} ledger rows after {within_s} s")


class Forwarder:
    """127.0.0.1:<port> relayed to PostgreSQL; `cut()` refuses and drops every connection,
    `restore()` listens again on the same port."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        self._server = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(PG_HOST, PG_PORT)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()

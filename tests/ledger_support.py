"""What the ledger's tests share: the app with its ledger in-process against OpenRouter's
answers, a PostgreSQL schema of their own in the real database `test`, reading the rows back,
and a TCP forwarder a test can cut to play a database outage."""

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.ledger.database import create_engine
from app.ledger.schema import ai_calls
from app.ledger.writer import LedgerWriter
from app.main import create_app
from tests.factories import make_settings, make_token
from tests.inprocess import CHAT_ANSWER, STREAM_ANSWER, asgi_client

AUTH = {"Authorization": f"Bearer {make_token('user-7')}"}
HI = [{"role": "user", "content": "Hi"}]
SSE = {"content-type": "text/event-stream"}


def upstream(request: httpx.Request) -> httpx.Response:
    """OpenRouter's answers (tests/inprocess.py); the model `broken` gets a 400."""
    body = orjson.loads(request.content)
    if body["model"] == "broken":
        return httpx.Response(400, json={"error": {"message": "bad", "code": 400}})
    if body.get("stream"):
        return httpx.Response(200, content=STREAM_ANSWER, headers=SSE)
    return httpx.Response(200, json=CHAT_ANSWER)


def ledger_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "ledger_enabled": True,
        "database_url": database_url,
        "ledger_flush_s": 0.05,
        **overrides,
    }
    return make_settings(**values)


@asynccontextmanager
async def ledger_gateway(
    settings: Settings,
    handler: Callable[[httpx.Request], Any] = upstream,
) -> AsyncIterator[tuple[httpx.AsyncClient, LedgerWriter, Any]]:
    """The app with its lifespan (so the ledger migrates, writes and flushes on leaving)."""
    app = create_app(settings, transport=httpx.MockTransport(handler))
    async with asgi_client(app) as (client, state):
        yield client, app.state.ledger, (app, state)


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
        try:
            rows = await ledger_rows(database_url)
        except SQLAlchemyError:  # no table yet: the gateway migrates when the database answers
            rows = []
        if len(rows) >= count:
            return rows
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"fewer than {count} ledger rows after {within_s} s")


class Forwarder:
    """127.0.0.1:<port> relayed to PostgreSQL (or another server); `cut()` refuses and drops
    every connection, `restore()` listens again on the same port."""

    def __init__(self, host: str = PG_HOST, port: int = PG_PORT) -> None:
        self._target = (host, port)
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
            up_reader, up_writer = await asyncio.open_connection(*self._target)
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

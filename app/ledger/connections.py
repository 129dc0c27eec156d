"""A connection for the ledger's readers and for the admin routes' writes. A database that
cannot be reached, refuses the gateway, or does not answer within `QUERY_TIMEOUT_S` is a 503 in
the caller's envelope (`LedgerUnavailableError`), logged with the error's class and first line
(never the URL, which may hold a password), never a 500. AI calls never come here: their rows
wait in the writer's queue (app/ledger/writer.py).
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.errors import GatewayError

log = logging.getLogger("app.ledger")

QUERY_TIMEOUT_S = 10.0


class LedgerUnavailableError(GatewayError):
    status_code = 503
    code = "LEDGER_UNAVAILABLE"


def first_line(err: BaseException) -> str:
    text = str(err)
    return text.splitlines()[0][:200] if text else ""


@asynccontextmanager
async def connected(engine: AsyncEngine, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
    """A connection (in a transaction committed on leaving, when `write`)."""
    try:
        async with asyncio.timeout(QUERY_TIMEOUT_S):
            async with engine.begin() if write else engine.connect() as connection:
                yield connection
    except (SQLAlchemyError, OSError, TimeoutError) as err:
        log.warning("ledger: database unavailable (%s: %s)", type(err).__name__, first_line(err))
        raise LedgerUnavailableError(
            "Usage records and AI configurations are unavailable: "
            "the gateway cannot reach its database.",
            next_actions="Retry shortly; the operator can check DATABASE_URL and the database.",
            headers={"Retry-After": "5"},
        ) from None

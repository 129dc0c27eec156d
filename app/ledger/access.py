"""The ledger for a route that reads it: its engine, once the rows queued so far are written
(so a caller sees the call it has just made), or 503 when the ledger is off."""

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

from app.errors import GatewayError, is_openai_path
from app.ledger.writer import LedgerWriter


class LedgerOffError(GatewayError):
    status_code = 503
    code = "LEDGER_DISABLED"


async def ledger_engine(request: Request) -> AsyncEngine:
    writer: LedgerWriter | None = getattr(request.app.state, "ledger", None)
    if writer is None:
        raise LedgerOffError(
            "Usage is not recorded on this gateway.",
            code="ledger_disabled" if is_openai_path(request.url.path) else None,
            next_actions="Ask the operator to set LEDGER_ENABLED=true.",
        )
    await writer.flush()
    return writer.engine


LedgerDep = Annotated[AsyncEngine, Depends(ledger_engine)]

"""`/api/v1/generation` and `/api/v1/usage`: what the ledger knows of the caller's own calls.

`generation` passes OpenRouter's `GET /generation?id=` through, but only for a generation the
ledger shows the caller made (an admin: any); any other id is a 404 and nothing goes upstream,
so one caller cannot read another's prompts' costs and models by guessing ids. OpenRouter's own
record is eventually consistent: right after a call it may answer 404, passed on as such.
Anonymous callers (AI_ALLOW_ANON) share one id, so they see each other's generations.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from app.auth import PrincipalDep
from app.deps import GatewayDep
from app.errors import GatewayError
from app.json_shape import Json
from app.ledger.access import LedgerDep
from app.ledger.queries import Scope, Totals, call_by_generation, total
from app.openapi import CALLER_AUTH
from app.pipeline import json_response
from app.upstream.failures import UpstreamFailure
from app.v1 import openapi as docs
from app.v1.errors import to_openai_error

router = APIRouter(prefix="/api/v1", tags=["openai"])

GENERATION_ID_MAX_CHARS = 255  # the ledger's column


class GenerationNotFoundError(GatewayError):
    status_code = 404
    code = "generation_not_found"


@router.get("/generation", responses=docs.GENERATION, openapi_extra=CALLER_AUTH)
async def get_generation(
    principal: PrincipalDep,
    engine: LedgerDep,
    gateway: GatewayDep,
    generation_id: Annotated[str, Query(alias="id", max_length=GENERATION_ID_MAX_CHARS)],
) -> Response:
    """OpenRouter's record of one of the caller's generations (an admin's: any)."""
    call = await call_by_generation(engine, generation_id)
    if call is None or (principal.kind != "admin" and call["user_id"] != principal.id):
        raise GenerationNotFoundError(f"Generation {generation_id} not found")
    try:
        answer = await gateway.upstream.get_json("generation", {"id": generation_id})
    except UpstreamFailure as failure:
        # The failure holds no key (app/upstream/failures.py): it maps as it is.
        raise to_openai_error(failure) from failure
    return json_response(answer)


def _period(totals: Totals, start: datetime | None, end: datetime | None) -> Json:
    return {
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "requests": totals.requests,
        "prompt_tokens": totals.prompt_tokens,
        "completion_tokens": totals.completion_tokens,
        "total_tokens": totals.total_tokens,
        "cost": totals.cost,
    }


@router.get("/usage", responses=docs.USAGE, openapi_extra=CALLER_AUTH)
async def get_usage(
    principal: PrincipalDep,
    engine: LedgerDep,
    start: Annotated[date | None, Query()] = None,
    end: Annotated[date | None, Query()] = None,
) -> Response:
    """The caller's requests, tokens and cost today, this month (UTC) and in [start, end]."""
    now = datetime.now(UTC)
    today = datetime.combine(now.date(), time(), UTC)
    month = today.replace(day=1)
    periods: dict[str, tuple[datetime | None, datetime | None]] = {
        "today": (today, None),
        "month": (month, None),
    }
    if start is not None or end is not None:
        since = None if start is None else datetime.combine(start, time(), UTC)
        # `end` is a whole day: up to the last instant before the next one.
        until = None if end is None else datetime.combine(end, time(), UTC) + timedelta(days=1)
        periods["range"] = (since, None if until is None else until - timedelta(microseconds=1))
    body: Json = {"object": "usage", "user": principal.id}
    for name, (since, until) in periods.items():
        totals = await total(engine, Scope(since, until, user_id=principal.id))
        body[name] = _period(totals, since, until)
    return json_response(body)

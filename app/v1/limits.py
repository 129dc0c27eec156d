"""`GET /api/v1/limits`: the caller's own limits, what is used, and when each is whole again, so
a browser app can show "40 of 50 requests left this minute" or the day's budget before it asks.

`used` counts what calls in flight hold as well as what has been settled (app/quotas/), so the
figures are the ones the next admission will be judged by.
"""

import math
import time
from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from app.auth import PrincipalDep
from app.json_shape import Json
from app.openapi import CALLER_AUTH
from app.pipeline import json_response
from app.quotas.hook import Quotas
from app.quotas.limits import LimitKind, Standing
from app.v1 import openapi as docs

router = APIRouter(prefix="/api/v1", tags=["openai"])

NAMES: dict[LimitKind, str] = {
    "concurrent": "concurrent_calls",
    "rpm": "requests_per_minute",
    "tokens_per_day": "tokens_per_day",
    "usd_per_day": "usd_per_day",
    "usd_per_month": "usd_per_month",
}


def _number(kind: LimitKind, value: float) -> float | int:
    return round(value, 6) if kind.startswith("usd") else int(value)


def _item(standing: Standing, now: float) -> Json:
    kind, reset = standing.kind, math.ceil(standing.reset_s)
    remaining = max(0.0, standing.remaining)
    return {
        "kind": NAMES[kind],
        "limit": _number(kind, standing.limit),
        "used": _number(kind, standing.limit - remaining),
        "remaining": _number(kind, remaining),
        "resets_in_s": reset,
        "resets_at": datetime.fromtimestamp(round(now + standing.reset_s), UTC)
        .isoformat()
        .replace("+00:00", "Z"),
    }


@router.get("/limits", responses=docs.LIMITS, openapi_extra=CALLER_AUTH)
async def get_limits(principal: PrincipalDep, request: Request) -> Response:
    """The caller's limits as they stand now."""
    quotas: Quotas | None = getattr(request.app.state, "quotas", None)
    standings = [] if quotas is None else await quotas.standing(principal)
    now = time.time()
    body = {"object": "limits", "user": principal.id, "limits": [_item(s, now) for s in standings]}
    return json_response(body)

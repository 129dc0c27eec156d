"""The legacy admin usage routes (`/api/ai/usage*`), read from the ledger.

One record shape serves both legacy clients: the legacy keys (`inputTokens`, `outputTokens`,
`imageCount`, `modelId`, `createdAt`, `configId`) beside the ones the Python SDK's
`AIUsageRecord` reads (`promptTokens`, `completionTokens`, `totalTokens`, `cost`), plus the
generation id, user and status. Likewise the summary carries the legacy totals and the SDK's
`totalCost` and `byModel`. Only the page differs: `{records,total}` for the legacy clients, a
bare array for the Python SDK (app/legacy/clients.py). What counts as usage, and how dates
bound it: app/ledger/queries.py. `groupBy=user` on the summary adds `byUser`, so "who spent
what this month" is one call.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from app.auth import AdminDep
from app.json_shape import Json
from app.ledger.access import LedgerDep
from app.ledger.queries import Scope, Summary, Totals, list_calls, summarize
from app.legacy import usage_openapi as docs
from app.legacy.clients import PythonSdkDep
from app.openapi import ADMIN_AUTH
from app.pipeline import json_response

# Past any table the ledger holds, and within every database's integers.
MAX_OFFSET = 10**12

router = APIRouter(prefix="/api/ai/usage", tags=["legacy-admin"])

DEFAULT_LIMIT = 50  # the legacy route's default page
MAX_LIMIT = 1000  # one page's rows are held in memory while the answer is built
# The configuration route was unpaged (a bare array, which the Python SDK reads whole); this
# bounds the rows one answer holds. `limit`/`offset` page it, and X-Total-Count tells a client
# that there are more.
MAX_CONFIG_ROWS = 10_000

StartDate = Annotated[datetime | None, Query(alias="startDate")]
EndDate = Annotated[datetime | None, Query(alias="endDate")]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _tokens(prompt: int | None, completion: int | None) -> int | None:
    if prompt is None and completion is None:
        return None
    return (prompt or 0) + (completion or 0)


def usage_record(row: dict[str, Any]) -> Json:
    prompt, completion = row["prompt_tokens"], row["completion_tokens"]
    return {
        "id": str(row["id"]),
        "configId": row["config_id"],
        "inputTokens": prompt,
        "outputTokens": completion,
        "promptTokens": prompt,
        "completionTokens": completion,
        "totalTokens": _tokens(prompt, completion),
        "cost": row["cost_usd"],
        "imageCount": row["image_count"],
        "imageResolution": None,
        "createdAt": _iso(row["started_at"]),
        "modelId": row["requested_model"] or row["served_model"],
        "model": row["served_model"],
        "provider": row["provider"],
        "generationId": row["generation_id"],
        "userId": row["user_id"],
        "status": row["status"],
    }


def _group(totals: Totals) -> Json:
    return {
        "requests": totals.requests,
        "inputTokens": totals.prompt_tokens,
        "outputTokens": totals.completion_tokens,
        "tokens": totals.total_tokens,
        "imageCount": totals.image_count,
        "cost": totals.cost,
    }


def summary_body(summary: Summary) -> Json:
    totals = summary.totals
    body: Json = {
        "totalInputTokens": totals.prompt_tokens,
        "totalOutputTokens": totals.completion_tokens,
        "totalTokens": totals.total_tokens,
        "totalImageCount": totals.image_count,
        "totalRequests": totals.requests,
        "totalCost": totals.cost,
        "byModel": {model: _group(group) for model, group in summary.by_model.items()},
    }
    if summary.by_user is not None:
        body["byUser"] = {user: _group(group) for user, group in summary.by_user.items()}
    return body


@router.get("", responses=docs.USAGE, openapi_extra=ADMIN_AUTH)
async def list_usage(
    _admin: AdminDep,
    engine: LedgerDep,
    python_sdk: PythonSdkDep,
    start: StartDate = None,
    end: EndDate = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    """The calls in a time range, newest first, one page of them."""
    rows, total = await list_calls(engine, Scope(start, end), limit=limit, offset=offset)
    records = [usage_record(row) for row in rows]
    return json_response(records if python_sdk else {"records": records, "total": total})


@router.get("/summary", responses=docs.USAGE_SUMMARY, openapi_extra=ADMIN_AUTH)
async def get_usage_summary(
    _admin: AdminDep,
    engine: LedgerDep,
    start: StartDate = None,
    end: EndDate = None,
    config_id: Annotated[str | None, Query(alias="configId", max_length=64)] = None,
    group_by: Annotated[Literal["user"] | None, Query(alias="groupBy")] = None,
) -> Response:
    """Requests, tokens and cost in a time range, per model, and per user with groupBy=user."""
    scope = Scope(start, end, config_id=config_id)
    summary = await summarize(engine, scope, by_user=group_by == "user")
    return json_response(summary_body(summary))


@router.get("/config/{configId}", responses=docs.USAGE_CONFIG, openapi_extra=ADMIN_AUTH)
async def list_configuration_usage(
    config_id: Annotated[str, Path(alias="configId", max_length=64)],
    _admin: AdminDep,
    engine: LedgerDep,
    start: StartDate = None,
    end: EndDate = None,
    limit: Annotated[int, Query(ge=1, le=MAX_CONFIG_ROWS)] = MAX_CONFIG_ROWS,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    """The calls made through one AI configuration in a time range, newest first: all of them
    up to 10,000 (the legacy route had no page), or the page `limit`/`offset` ask for;
    `X-Total-Count` is how many there are in the range."""
    scope = Scope(start, end, config_id=config_id)
    rows, total = await list_calls(engine, scope, limit=limit, offset=offset)
    return json_response([usage_record(row) for row in rows], {"X-Total-Count": str(total)})

"""Admin routes for per-user limits over the QUOTA_* defaults (app/quotas/overrides.py), kept in
the ledger's database: `PUT /api/ai/quotas/:userId` sets them (every field: a number, the
string `unlimited`, or null or absent for the default; 0 refuses every call), `GET` reads one
user's (set or not) with the limits that apply, `DELETE` returns the user to the defaults, and
`GET /api/ai/quotas` lists the users that have their own. A change applies in this process at
once and in every other within 5 seconds. With the ledger off they answer 503.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from app.auth import AdminDep
from app.errors import GatewayError
from app.json_shape import Json
from app.ledger.access import LedgerOffError
from app.ledger.schema import UNLIMITED
from app.legacy import quotas_openapi as docs
from app.legacy.schemas import LegacyModel
from app.openapi import ADMIN_AUTH
from app.pipeline import json_response
from app.quotas.hook import Quotas
from app.quotas.limits import Limits
from app.quotas.overrides import Override

# Past any table the ledger holds, and within every database's integers.
MAX_OFFSET = 10**12

router = APIRouter(prefix="/api/ai/quotas", tags=["legacy-admin"])

Count = Annotated[int, Field(ge=0, le=10**15)] | Literal["unlimited"] | None
Usd = Annotated[float, Field(ge=0, le=10**9, allow_inf_nan=False)] | Literal["unlimited"] | None
UserId = Annotated[str, Path(alias="userId", min_length=1, max_length=255)]
# API name → Override field.
FIELDS = {
    "rpm": "rpm",
    "tokensPerDay": "tokens_per_day",
    "usdPerDay": "usd_per_day",
    "usdPerMonth": "usd_per_month",
    "concurrentStreams": "concurrent",
}


class QuotaSet(LegacyModel):
    rpm: Count = None
    tokens_per_day: Count = Field(default=None, alias="tokensPerDay")
    usd_per_day: Usd = Field(default=None, alias="usdPerDay")
    usd_per_month: Usd = Field(default=None, alias="usdPerMonth")
    concurrent: Count = Field(default=None, alias="concurrentStreams")


async def quotas_of(request: Request) -> Quotas:
    quotas: Quotas | None = getattr(request.app.state, "quotas", None)
    if quotas is None or quotas.overrides is None:
        raise LedgerOffError(
            "Per-user limits are kept in the usage ledger, which is off on this gateway.",
            next_actions="Ask the operator to set LEDGER_ENABLED=true.",
        )
    return quotas


# After AdminDep in every signature: a caller who is not an admin learns nothing more.
QuotasDep = Annotated[Quotas, Depends(quotas_of)]


def _shown(value: float | None) -> float | str | None:
    return "unlimited" if value == UNLIMITED else value


def _limits(limits: Limits) -> Json:
    return {api: getattr(limits, field) for api, field in FIELDS.items()}


def _body(user_id: str, override: Override | None, quotas: Quotas) -> Json:
    base = Override(user_id) if override is None else override
    body: Json = {"userId": user_id}
    body.update({api: _shown(getattr(base, field)) for api, field in FIELDS.items()})
    body["updatedAt"] = None if base.updated_at is None else base.updated_at.isoformat()
    body["effective"] = _limits(base.over(quotas.defaults))
    return body


@router.get("", responses=docs.QUOTA_LIST, openapi_extra=ADMIN_AUTH)
async def list_quotas(
    _admin: AdminDep,
    quotas: QuotasDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    """The users that have limits of their own, by user id; and the defaults."""
    assert quotas.overrides is not None
    rows, total = await quotas.overrides.page(limit, offset)
    listed = [_body(row.user_id, row, quotas) for row in rows]
    return json_response({"quotas": listed, "total": total, "defaults": _limits(quotas.defaults)})


@router.get("/{userId}", responses=docs.QUOTA, openapi_extra=ADMIN_AUTH)
async def get_quota(user_id: UserId, _admin: AdminDep, quotas: QuotasDep) -> Response:
    """One user's limits as set, and as they apply."""
    assert quotas.overrides is not None
    return json_response(_body(user_id, await quotas.overrides.one(user_id), quotas))


@router.put("/{userId}", responses=docs.QUOTA, openapi_extra=ADMIN_AUTH)
async def put_quota(
    user_id: UserId, _admin: AdminDep, quotas: QuotasDep, body: QuotaSet
) -> Response:
    """Set the user's limits; an absent or null field keeps the default."""
    assert quotas.overrides is not None
    values: dict[str, Any] = {}
    for field in FIELDS.values():
        value = getattr(body, field)
        values[field] = UNLIMITED if value == "unlimited" else value
    saved = await quotas.overrides.put(Override(user_id, **values))
    return json_response(_body(user_id, saved, quotas))


@router.delete("/{userId}", responses=docs.QUOTA_GONE, openapi_extra=ADMIN_AUTH)
async def delete_quota(user_id: UserId, _admin: AdminDep, quotas: QuotasDep) -> Response:
    """Return the user to the defaults."""
    assert quotas.overrides is not None
    if not await quotas.overrides.delete(user_id):
        raise GatewayError(
            f"No limits are set for user {user_id}", status_code=404, code="NOT_FOUND"
        )
    return json_response({"message": "Quota removed; the defaults apply"})

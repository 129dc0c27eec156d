"""Operational probes and the metrics. None touches the upstream: a slow OpenRouter must not
restart pods or mark them unready.

`/healthz` (liveness) depends on nothing but the process. `/readyz` (readiness) checks what the
gateway itself needs to serve as configured: the ledger's database when the ledger is on, Redis
when the quotas use it. Either failing is a 503 that names it, so an orchestrator stops sending
traffic to a replica that would refuse it, and sends it again when the dependency is back.
"""

import asyncio
from typing import Any

from fastapi import APIRouter
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.auth import AdminDep
from app.errors import GatewayError, error_response
from app.legacy.openapi import ADMIN_AUTH_ERRORS, LegacyError
from app.metrics import CONTENT_TYPE, Metrics
from app.openapi import ADMIN_AUTH, error_responses
from app.quotas.redis_store import RedisStore

router = APIRouter(tags=["ops"])

CHECK_TIMEOUT_S = 2.0


def _status(*values: str) -> dict[int | str, dict[str, Any]]:
    """The probe's answers, for /openapi.json."""
    checks = {"type": "object", "additionalProperties": {"enum": ["ok", "unreachable"]}}
    schema = {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"enum": list(values)}, "checks": checks},
    }
    answers: dict[int | str, dict[str, Any]] = {
        200: {"content": {"application/json": {"schema": schema}}}
    }
    if len(values) > 1:
        answers[503] = {"content": {"application/json": {"schema": schema}}}
    return answers


@router.get("/healthz", responses=_status("ok"))
async def get_health() -> JSONResponse:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


async def _check(probe: Any) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await probe()
    except (SQLAlchemyError, RedisError, OSError, TimeoutError):
        return "unreachable"
    return "ok"


@router.get("/readyz", responses=_status("ready", "unready"))
async def get_readiness(request: Request) -> JSONResponse:
    """Readiness: the gateway's own dependencies answer (the ledger's database, Redis)."""
    state = request.app.state
    checks: dict[str, str] = {}
    ledger = getattr(state, "ledger", None)
    if ledger is not None:

        async def select_one() -> None:
            async with ledger.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))

        checks["ledger"] = await _check(select_one)
    quotas = getattr(state, "quotas", None)
    if quotas is not None and isinstance(quotas.store, RedisStore):
        checks["redis"] = await _check(quotas.store.client.ping)
    ready = all(value == "ok" for value in checks.values())
    body = {"status": "ready" if ready else "unready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)


METRICS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus' text exposition format.",
        "content": {CONTENT_TYPE: {"schema": {"type": "string"}}},
    },
    **error_responses(
        LegacyError, {**ADMIN_AUTH_ERRORS, 404: "NOT_FOUND: metrics are off (METRICS_ENABLED)"}
    ),
}


@router.get("/metrics", responses=METRICS, openapi_extra=ADMIN_AUTH)
async def get_metrics(_admin: AdminDep, request: Request) -> Response:
    """Prometheus metrics (the admin key; METRICS_PORT serves them without one)."""
    metrics: Metrics | None = getattr(request.app.state, "metrics", None)
    if metrics is None:
        off = GatewayError(
            "Metrics are off on this gateway.",
            status_code=404,
            code="NOT_FOUND",
            next_actions="Set METRICS_ENABLED=true.",
        )
        return error_response(off, request.url.path)
    return Response(metrics.render(), media_type=CONTENT_TYPE)

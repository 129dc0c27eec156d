"""Operational probes. Neither touches the upstream: a slow OpenRouter must not restart pods."""

from fastapi import APIRouter
from starlette.responses import JSONResponse

router = APIRouter(tags=["ops"])


def _status(value: str) -> dict[int | str, dict[str, object]]:
    """The probe's one answer, for /openapi.json."""
    schema = {"type": "object", "required": ["status"], "properties": {"status": {"const": value}}}
    return {200: {"content": {"application/json": {"schema": schema}}}}


@router.get("/healthz", responses=_status("ok"))
async def get_health() -> JSONResponse:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz", responses=_status("ready"))
async def get_readiness() -> JSONResponse:
    """Readiness: the gateway's own dependencies are up (it has none beyond itself yet)."""
    return JSONResponse({"status": "ready"})

"""Operational probes. Neither touches the upstream: a slow OpenRouter must not restart pods."""

from fastapi import APIRouter
from starlette.responses import JSONResponse

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def get_health() -> JSONResponse:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def get_readiness() -> JSONResponse:
    """Readiness: the gateway's own dependencies are up (it has none beyond itself yet)."""
    return JSONResponse({"status": "ready"})

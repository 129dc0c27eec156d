"""Admin routes: the model catalog, the key's status and its credits. The raw key is never
returned, to anyone: the legacy `GET /api/ai/:provider/api-key` answers with the masked form only.
The Python SDK gets its own shapes of the catalog and the credits (app/legacy/python_sdk.py)."""

from typing import Annotated

import orjson
from fastapi import APIRouter, Path
from starlette.responses import Response

from app.auth import AdminDep
from app.deps import GatewayDep
from app.errors import JSON_MEDIA_TYPE, InvalidInputError, UpstreamError
from app.json_shape import Json
from app.legacy import admin_openapi as docs
from app.legacy.catalog import legacy_models
from app.legacy.clients import PythonSdkDep
from app.legacy.errors import to_legacy_error
from app.legacy.python_sdk import sdk_credits, sdk_models
from app.openapi import ADMIN_AUTH
from app.pipeline import json_response
from app.upstream.failures import UpstreamFailure

router = APIRouter(prefix="/api/ai", tags=["legacy-admin"])

MASK = "••••••••"
OPENROUTER_KEY_PREFIX = "sk-or-v1-"  # public: every OpenRouter key starts with it
MASK_MIN_SECRET_CHARS = 16  # below this, even 4 characters are too large a share of the secret


def mask_key(key: str) -> str:
    """At most the public `sk-or-v1` prefix and the last 4 characters; nothing of a short key."""
    secret = key.removeprefix(OPENROUTER_KEY_PREFIX)
    if len(secret) < MASK_MIN_SECRET_CHARS:
        return MASK
    shown = OPENROUTER_KEY_PREFIX.rstrip("-") if secret != key else ""
    return f"{shown}{MASK}{secret[-4:]}"


@router.get("/models", responses=docs.MODELS, openapi_extra=ADMIN_AUTH)
async def list_models(_admin: AdminDep, gateway: GatewayDep, python_sdk: PythonSdkDep) -> Response:
    """OpenRouter's catalog in the legacy shape, cached for an hour, stale when upstream fails."""
    configured = bool(gateway.settings.openrouter_api_key.get_secret_value())
    try:
        if python_sdk:
            body = await gateway.catalog.derived(
                "python-sdk", lambda raw: orjson.dumps(sdk_models(raw, configured))
            )
        else:
            body = await gateway.catalog.derived(
                "legacy", lambda raw: orjson.dumps(legacy_models(raw))
            )
    except UpstreamFailure as failure:
        raise UpstreamError(
            "The AI model catalog is unavailable right now.", status_code=503
        ) from failure
    return Response(body, media_type=JSON_MEDIA_TYPE)


@router.get("/config", responses=docs.CONFIG, openapi_extra=ADMIN_AUTH)
async def get_config(_admin: AdminDep, gateway: GatewayDep) -> Response:
    """Whether a key is configured, and its masked form."""
    key = gateway.settings.openrouter_api_key.get_secret_value()
    return json_response(
        {
            "apiKey": {"configured": bool(key), "maskedKey": mask_key(key)},
            "managementKey": {"configured": False},
        }
    )


@router.get("/{provider}/api-key", responses=docs.KEY_STATUS, openapi_extra=ADMIN_AUTH)
async def get_api_key_status(
    provider: Annotated[str, Path(json_schema_extra={"enum": ["openrouter"]})],
    _admin: AdminDep,
    gateway: GatewayDep,
) -> Response:
    """Masked status only; the legacy route returned the raw key, which this gateway never does."""
    if provider != "openrouter":
        raise InvalidInputError(f"Unsupported AI provider: {provider}")
    key = gateway.settings.openrouter_api_key.get_secret_value()
    return json_response({"maskedKey": mask_key(key), "configured": bool(key)})


@router.get("/credits", responses=docs.CREDITS, openapi_extra=ADMIN_AUTH)
async def get_credits(_admin: AdminDep, gateway: GatewayDep, python_sdk: PythonSdkDep) -> Response:
    """The OpenRouter key's usage, limit and what remains of it (OpenRouter's `GET /key`)."""
    upstream = gateway.upstream
    try:
        answer = await upstream.get_json("key")
    except UpstreamFailure as failure:
        # The failure holds no key (app/upstream/failures.py): it maps as it is.
        raise to_legacy_error(failure) from failure
    credits = legacy_credits(answer)
    return json_response(sdk_credits(credits) if python_sdk else credits)


def legacy_credits(key_answer: Json) -> Json:
    """`{usage, limit, remaining}` from OpenRouter's `GET /key` (`data.limit_remaining`)."""
    data = key_answer.get("data")
    info: Json = data if isinstance(data, dict) else {}
    return {
        "usage": _number(info.get("usage")) or 0,
        "limit": _number(info.get("limit")),
        "remaining": _number(info.get("limit_remaining")),
    }


def _number(value: object) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None

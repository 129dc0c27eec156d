"""`/api/v1`'s catalog routes: the model list (with the filters browser apps need), the
account's model list, the providers, and a model's endpoints.

Every answer is the same for every caller (the key is the gateway's), so each is cached in the
process (app/upstream/catalog.py, app/upstream/listing.py), and every one obeys the model
allow-list: a refused model is never listed, and its endpoints are a 404 asked of nobody.

Filters, so an app needs no code of its own to pick a model (the rules of the project's seed
documents): `free=true` keeps models whose every price is zero (a model without prices is not
free); `input_modalities=image,text` keeps models that take every listed modality, from
`architecture`, never from names; `output_modalities=` likewise for what they produce (`all`:
no filter). The unfiltered list is what it was: every modality.
"""

import re
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response

from app.auth import PrincipalDep
from app.config import Settings
from app.deps import GatewayDep
from app.errors import JSON_MEDIA_TYPE, GatewayError, InvalidInputError, UpstreamError
from app.json_shape import Json
from app.openapi import CALLER_AUTH
from app.pipeline import json_response
from app.policy import model_allowed
from app.upstream.failures import UpstreamFailure
from app.v1 import openapi as docs
from app.v1.errors import to_openai_error

router = APIRouter(prefix="/api/v1", tags=["openai"])

LISTING_TTL_S = 3600.0
# A model's endpoints carry their providers' status and uptime: kept for minutes, not an hour.
ENDPOINTS_TTL_S = 300.0
MODALITY = re.compile(r"[a-z][a-z_]{0,31}")
# An author or a slug: what OpenRouter's ids are made of (a variant such as `:free` included).
ID_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


class ModelNotFoundError(GatewayError):
    status_code = 404
    code = "model_not_found"


def _modalities(value: str | None, name: str) -> frozenset[str] | None:
    if value is None or value == "all":
        return None
    wanted = frozenset(part.strip() for part in value.split(","))
    if not wanted or not all(MODALITY.fullmatch(part) for part in wanted):
        raise InvalidInputError(
            f"`{name}` is a comma-separated list of modalities (text, image, audio, …) or `all`.",
            code="invalid_filter",
        )
    return wanted


def _is_free(model: Json) -> bool:
    pricing = model.get("pricing")
    if not isinstance(pricing, dict) or not pricing:
        return False
    try:
        return all(float(price) == 0 for price in pricing.values())
    except (TypeError, ValueError):
        return False


def _takes(model: Json, key: str, wanted: frozenset[str]) -> bool:
    architecture = model.get("architecture")
    have = architecture.get(key) if isinstance(architecture, dict) else None
    return isinstance(have, list) and wanted.issubset(have)


def model_filter(
    free: bool | None, input_modalities: str | None, output_modalities: str | None
) -> Callable[[Json], bool] | None:
    """The caller's filters as one predicate, or None when there are none."""
    inputs = _modalities(input_modalities, "input_modalities")
    outputs = _modalities(output_modalities, "output_modalities")
    if free is None and inputs is None and outputs is None:
        return None

    def keep(model: Json) -> bool:
        return (
            (free is None or _is_free(model) == free)
            and (inputs is None or _takes(model, "input_modalities", inputs))
            and (outputs is None or _takes(model, "output_modalities", outputs))
        )

    return keep


def allowed_models(models: list[Any], settings: Settings) -> list[Json]:
    """The entries of a model list this gateway allows (ALLOWED_MODELS)."""
    return [
        m
        for m in models
        if isinstance(m, dict) and isinstance(m.get("id"), str) and model_allowed(m["id"], settings)
    ]


def _unavailable() -> UpstreamError:
    return UpstreamError(
        "The AI model catalog is unavailable right now.",
        status_code=503,
        code="catalog_unavailable",
    )


Free = Annotated[bool | None, Query(description="only models whose every price is zero")]
Inputs = Annotated[str | None, Query(max_length=200, description="e.g. `image` or `image,text`")]
Outputs = Annotated[str | None, Query(max_length=200, description="e.g. `image`, or `all`")]


@router.get("/models", responses=docs.MODELS, openapi_extra=CALLER_AUTH)
async def list_models(
    _principal: PrincipalDep,
    gateway: GatewayDep,
    free: Free = None,
    input_modalities: Inputs = None,
    output_modalities: Outputs = None,
) -> Response:
    """OpenRouter's catalog, only the models this gateway allows, optionally filtered."""
    settings, catalog = gateway.settings, gateway.catalog
    keep = model_filter(free, input_modalities, output_modalities)
    try:
        if keep is None:  # the common case: one serialised list per fetched catalog
            content = await catalog.derived(
                "openai", lambda ms: orjson.dumps({"data": allowed_models(ms, settings)})
            )
            return Response(content, media_type=JSON_MEDIA_TYPE)
        allowed = await catalog.derived("openai:models", lambda ms: allowed_models(ms, settings))
    except UpstreamFailure as failure:
        raise _unavailable() from failure
    return json_response({"data": [m for m in allowed if keep(m)]})


@router.get("/models/user", responses=docs.MODELS, openapi_extra=CALLER_AUTH)
async def list_user_models(
    _principal: PrincipalDep,
    gateway: GatewayDep,
    free: Free = None,
    input_modalities: Inputs = None,
    output_modalities: Outputs = None,
) -> Response:
    """The models the gateway's OpenRouter account may use (its provider, privacy and guardrail
    settings applied), only those this gateway allows, optionally filtered."""
    keep = model_filter(free, input_modalities, output_modalities)
    try:
        answer = await gateway.catalog.listings.get(
            "models/user", LISTING_TTL_S, {"output_modalities": "all"}
        )
    except UpstreamFailure as failure:
        raise _unavailable() from failure
    models = allowed_models(answer.get("data") or [], gateway.settings)
    return json_response({"data": [m for m in models if keep is None or keep(m)]})


@router.get("/providers", responses=docs.PROVIDERS, openapi_extra=CALLER_AUTH)
async def list_providers(_principal: PrincipalDep, gateway: GatewayDep) -> Response:
    """OpenRouter's providers (names, slugs, policies and status pages), as it sends them."""
    try:
        answer = await gateway.catalog.listings.get("providers", LISTING_TTL_S)
    except UpstreamFailure as failure:
        raise _unavailable() from failure
    return json_response(answer)


@router.get(
    "/models/{author}/{slug}/endpoints", responses=docs.ENDPOINTS, openapi_extra=CALLER_AUTH
)
async def list_endpoints(
    author: str, slug: str, _principal: PrincipalDep, gateway: GatewayDep
) -> Response:
    """The providers serving one model, with their prices, limits, status and uptime; a model
    this gateway does not allow is not found."""
    model = f"{author}/{slug}"
    if not (ID_PART.fullmatch(author) and ID_PART.fullmatch(slug)) or not model_allowed(
        model, gateway.settings
    ):
        raise ModelNotFoundError(f"Model {model} not found.")
    try:
        answer = await gateway.catalog.listings.get(f"models/{model}/endpoints", ENDPOINTS_TTL_S)
    except UpstreamFailure as failure:
        raise to_openai_error(failure) from failure
    return json_response(answer)

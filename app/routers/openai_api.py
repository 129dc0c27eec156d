"""`/api/v1/*`: OpenRouter's OpenAI-compatible API, passed through under the gateway's policy.

Requests go upstream as the client sent them, except what `app/policy.py` governs; answers come
back untouched (bytes, `X-Generation-Id`), except embeddings asked for as base64, which are
fetched as floats and encoded here (OpenRouter has answered base64 requests with no data).
"""

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from app.auth import Principal, PrincipalDep
from app.config import Settings
from app.deps import Gateway, GatewayDep
from app.errors import JSON_MEDIA_TYPE, GatewayError, InvalidInputError, UpstreamError
from app.json_shape import JsonShapeError, check_shape, loads
from app.openai_errors import to_openai_error
from app.openai_stream import OpenAITranslator
from app.policy import PolicyError, apply_policy, check_models, model_allowed
from app.routers.common import ai_route, generation_header
from app.stream_clock import StreamClock
from app.streaming import relay, sse_response
from app.translate_media import float32_base64
from app.upstream import UpstreamClient, UpstreamFailure

router = APIRouter(prefix="/api/v1", tags=["openai"])

OPENAI_ERRORS: dict[int | str, dict[str, str]] = {
    400: {"description": "invalid_request_error: bad JSON, a refused model or asset, limits"},
    401: {"description": "authentication_error"},
    403: {"description": "permission_error: anonymous caller while AI_ALLOW_ANON is off"},
    429: {"description": "rate_limit_error from the upstream"},
    502: {"description": "api_error: the upstream failed"},
}


def parse_object(raw: bytes, settings: Settings) -> dict[str, Any]:
    """The body as a JSON object, its depth and size bounded (app/json_shape.py)."""
    try:
        body = loads(raw, settings.max_json_depth)
        check_shape(body, max_depth=settings.max_json_depth, max_items=settings.max_json_items)
    except JsonShapeError as err:
        raise InvalidInputError(
            err.message, code="invalid_body", next_actions=err.next_actions
        ) from None
    except orjson.JSONDecodeError:
        raise InvalidInputError(
            "The request body is not valid JSON.", code="invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise InvalidInputError("The request body must be a JSON object.", code="invalid_body")
    return body


def policy_refusal(err: PolicyError) -> GatewayError:
    code = {
        "model": "model_not_allowed",
        "limits": "request_too_large",
        "asset": "asset_refused",
        "invalid": "invalid_request",
    }
    return InvalidInputError(err.message, code=code[err.rule], next_actions=err.next_actions)


async def send(
    upstream: UpstreamClient, path: str, body: dict[str, Any]
) -> tuple[Any, bytes, dict[str, str]]:
    try:
        payload, content, headers = await upstream.send(path, body)
    except UpstreamFailure as failure:
        secret = upstream.settings.openrouter_api_key.get_secret_value()
        raise to_openai_error(failure, secret) from failure
    return payload, content, generation_header(headers)


@ai_route("/api/v1/chat/completions")
async def create_chat_completion(
    _request: Request, raw: bytes, principal: Principal, gateway: Gateway
) -> Response:
    """Chat completions, JSON or Server-Sent Events."""
    settings, upstream, shutdown = gateway.settings, gateway.upstream, gateway.shutdown
    body = parse_object(raw, settings)
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise InvalidInputError("`messages` must be a non-empty array.", code="invalid_messages")
    try:
        await apply_policy(
            body, user_id=principal.id, settings=settings, assets=gateway.assets, surface="openai"
        )
    except PolicyError as err:
        raise policy_refusal(err) from err
    if body.get("stream") is True:
        clock = StreamClock(settings, shutdown)
        try:
            # Status first: a refusal before the stream starts is a real HTTP error.
            async with asyncio.timeout_at(clock.deadline()):
                resp = await upstream.open_stream("chat/completions", body)
        except TimeoutError as err:
            raise UpstreamError(
                clock.expired_reason(), status_code=504, code="upstream_timeout"
            ) from err
        except UpstreamFailure as failure:
            secret = settings.openrouter_api_key.get_secret_value()
            raise to_openai_error(failure, secret) from failure
        headers = generation_header(resp.headers)

        async def opened() -> Any:
            return resp

        events = relay(opened, clock, shutdown, OpenAITranslator(settings))
        return sse_response(events, settings, headers=headers)
    _payload, content, headers = await send(upstream, "chat/completions", body)
    return Response(content, media_type=JSON_MEDIA_TYPE, headers=headers)


@ai_route("/api/v1/embeddings")
async def create_embeddings(
    _request: Request, raw: bytes, principal: Principal, gateway: Gateway
) -> Response:
    """Embeddings; base64 answers are encoded here from upstream floats."""
    settings, upstream = gateway.settings, gateway.upstream
    body = parse_object(raw, settings)
    try:
        check_models(body, settings)
    except PolicyError as err:
        raise policy_refusal(err) from err
    wants_base64 = body.get("encoding_format") == "base64"
    body["encoding_format"] = "float"
    body["user"] = principal.id
    payload, content, headers = await send(upstream, "embeddings", body)
    data = payload.get("data")
    if not isinstance(data, list) or not data:
        raise UpstreamError("The AI provider returned no embeddings.", code="empty_embeddings")
    if not wants_base64:
        return Response(content, media_type=JSON_MEDIA_TYPE, headers=headers)
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("embedding"), list):
            item["embedding"] = float32_base64(item["embedding"])
    return Response(orjson.dumps(payload), media_type=JSON_MEDIA_TYPE, headers=headers)


@router.get("/models", responses=OPENAI_ERRORS)
async def list_models(_principal: PrincipalDep, gateway: GatewayDep) -> Response:
    """OpenRouter's catalog, only the models this gateway allows."""
    settings, catalog = gateway.settings, gateway.catalog

    def build(models: list[dict[str, Any]]) -> bytes:
        allowed = [
            m for m in models if isinstance(m.get("id"), str) and model_allowed(m["id"], settings)
        ]
        return orjson.dumps({"data": allowed})

    try:
        content = await catalog.derived("openai", build)
    except UpstreamFailure as failure:
        raise UpstreamError(
            "The AI model catalog is unavailable right now.",
            status_code=503,
            code="catalog_unavailable",
        ) from failure
    return Response(content, media_type=JSON_MEDIA_TYPE)

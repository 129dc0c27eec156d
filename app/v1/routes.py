"""`/api/v1/*`: OpenRouter's OpenAI-compatible API, passed through under the gateway's policy.

Requests go upstream as the client sent them, except what `app/policy.py` governs; answers come
back untouched (bytes, `X-Generation-Id`), except embeddings asked for as base64, which are
fetched as floats and encoded here (OpenRouter has answered base64 requests with no data).
"""

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from app.config import Settings
from app.encoding import float32_base64
from app.errors import JSON_MEDIA_TYPE, InvalidInputError, UpstreamError
from app.json_shape import JsonShapeError, check_shape, loads
from app.pipeline import Call, generation_header
from app.policy import apply_policy, check_models
from app.streams.clock import StreamClock
from app.streams.relay import relay, sse_response
from app.v1.stream import OpenAITranslator

router = APIRouter(prefix="/api/v1", tags=["openai"])


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


async def create_chat_completion(call: Call) -> Response:
    """Chat completions, JSON or Server-Sent Events."""
    gateway = call.gateway
    settings, upstream, shutdown = gateway.settings, gateway.upstream, gateway.shutdown
    body = parse_object(call.take_body(), settings)
    call.requested_model = model if isinstance(model := body.get("model"), str) else None
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise InvalidInputError("`messages` must be a non-empty array.", code="invalid_messages")
    call.prompt_chars = await apply_policy(
        body, user_id=call.principal.id, settings=settings, assets=gateway.assets, surface="openai"
    )
    await call.admit(body)
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
        headers = generation_header(resp.headers)

        async def opened() -> Any:
            return resp

        secret = settings.openrouter_api_key.get_secret_value()
        events = relay(opened, clock, shutdown, OpenAITranslator(), secret, call)
        return sse_response(events, settings, call, headers=headers)
    payload, content, answer_headers = await upstream.send("chat/completions", body)
    call.usage.read_answer(payload)
    return Response(content, media_type=JSON_MEDIA_TYPE, headers=generation_header(answer_headers))


async def create_embeddings(call: Call) -> Response:
    """Embeddings; base64 answers are encoded here from upstream floats."""
    settings, upstream = call.gateway.settings, call.gateway.upstream
    body = parse_object(call.take_body(), settings)
    call.requested_model = model if isinstance(model := body.get("model"), str) else None
    check_models(body, settings)
    await call.admit(body)
    wants_base64 = body.get("encoding_format") == "base64"
    body["encoding_format"] = "float"
    body["user"] = call.principal.id
    payload, content, upstream_headers = await upstream.send("embeddings", body)
    call.usage.read_answer(payload)
    headers = generation_header(upstream_headers)
    data = payload.get("data")
    if not isinstance(data, list) or not data:
        raise UpstreamError("The AI provider returned no embeddings.", code="empty_embeddings")
    if not wants_base64:
        return Response(content, media_type=JSON_MEDIA_TYPE, headers=headers)
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("embedding"), list):
            item["embedding"] = float32_base64(item["embedding"])
    return Response(orjson.dumps(payload), media_type=JSON_MEDIA_TYPE, headers=headers)

"""`POST /api/ai/chat/completion`: the legacy chat route (JSON answers)."""

import logging
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter
from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response

from app.auth import PrincipalDep
from app.deps import SettingsDep, ShutdownDep, UpstreamDep
from app.errors import JSON_MEDIA_TYPE, InvalidInputError
from app.policy import check_prompt_limits
from app.schemas.body import parse_body
from app.schemas.legacy import ChatCompletionRequest
from app.streaming import error_frame, legacy_relay, sse_response
from app.translate import from_upstream_chat, to_upstream_chat
from app.upstream import UpstreamFailure, check_choices
from app.upstream_errors import to_legacy_error

router = APIRouter(prefix="/api/ai", tags=["legacy"])
log = logging.getLogger("app.prompts")

LEGACY_ERRORS: dict[int | str, dict[str, str]] = {
    400: {"description": "INVALID_INPUT: malformed JSON or a schema violation"},
    401: {"description": "No, invalid or expired credential; upstream key rejected"},
    402: {"description": "BILLING_INSUFFICIENT_BALANCE"},
    403: {"description": "Anonymous caller while AI_ALLOW_ANON is off"},
    413: {"description": "Request body over MAX_REQUEST_BYTES"},
    429: {"description": "RATE_LIMITED by the upstream"},
    502: {"description": "AI_UPSTREAM_UNAVAILABLE"},
}


async def single_event(event: ServerSentEvent) -> AsyncIterator[ServerSentEvent]:
    yield event


@router.post("/chat/completion", responses=LEGACY_ERRORS)
async def create_chat_completion(
    request: Request,
    _principal: PrincipalDep,
    settings: SettingsDep,
    upstream: UpstreamDep,
    shutdown: ShutdownDep,
) -> Response:
    """Chat completion in the legacy camelCase schema."""
    chat = parse_body(
        ChatCompletionRequest,
        await request.body(),
        request.headers.get("content-type"),
        {"max_completion_tokens": settings.max_completion_tokens},
    )
    check_prompt_limits(chat.messages, settings)
    if settings.log_prompts:
        log.info("prompt: %s", orjson.dumps(chat.model_dump(by_alias=True)).decode())
    if chat.stream:
        try:
            stream_body = to_upstream_chat(chat, max_tokens_cap=settings.max_completion_tokens)
        except InvalidInputError as err:
            # Past validation the legacy route had committed to SSE: errors are events.
            return sse_response(single_event(error_frame(err.message)), settings)
        return sse_response(legacy_relay(upstream, stream_body, shutdown), settings)
    body = to_upstream_chat(chat, max_tokens_cap=settings.max_completion_tokens)
    try:
        answer, headers = await upstream.send_json("chat/completions", body)
        check_choices(answer)
    except UpstreamFailure as failure:
        raise to_legacy_error(failure, settings.openrouter_api_key.get_secret_value()) from failure
    result = from_upstream_chat(answer, body["model"])
    extra = (
        {"X-Generation-Id": headers["x-generation-id"]} if "x-generation-id" in headers else None
    )
    return Response(orjson.dumps(result), media_type=JSON_MEDIA_TYPE, headers=extra)

"""`POST /api/ai/chat/completion`: the legacy chat route, JSON or Server-Sent Events."""

import logging
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter
from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response

from app.auth import PrincipalDep
from app.deps import SettingsDep, ShutdownDep, UpstreamDep
from app.errors import InvalidInputError
from app.policy import check_prompt_limits
from app.routers.common import LEGACY_ERRORS, call_upstream, json_response, read_legacy
from app.schemas.legacy import ChatCompletionRequest
from app.streaming import error_frame, legacy_relay, sse_response
from app.translate import from_upstream_chat, to_upstream_chat
from app.upstream import UpstreamFailure, check_choices
from app.upstream_errors import to_legacy_error

router = APIRouter(prefix="/api/ai", tags=["legacy"])
log = logging.getLogger("app.prompts")


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
    chat = await read_legacy(request, ChatCompletionRequest, settings)
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
    answer, headers = await call_upstream(upstream, "chat/completions", body)
    try:
        check_choices(answer)
    except UpstreamFailure as failure:
        secret = settings.openrouter_api_key.get_secret_value()
        raise to_legacy_error(failure, secret) from failure
    return json_response(from_upstream_chat(answer, body["model"]), headers)

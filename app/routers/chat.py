"""`POST /api/ai/chat/completion`: the legacy chat route, JSON or Server-Sent Events."""

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from app.auth import Principal
from app.config import Settings
from app.deps import Gateway
from app.errors import InvalidInputError
from app.policy import PolicyError, apply_policy, check_message_count
from app.routers.common import (
    ai_route,
    call_upstream,
    json_response,
    legacy_refusal,
    read_legacy,
)
from app.schemas.legacy import ChatCompletionRequest
from app.streaming import error_frame, legacy_relay, sse_response
from app.translate import from_upstream_chat, to_upstream_chat
from app.upstream import UpstreamFailure, check_choices
from app.upstream_errors import to_legacy_error

log = logging.getLogger("app.prompts")


async def single_event(event: bytes) -> AsyncIterator[bytes]:
    yield event


def _count_messages(body: Any, settings: Settings) -> None:
    """MAX_MESSAGES before validation: 300,000 valid messages took 5.5 s to validate, only to
    be refused by this limit afterwards."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if isinstance(messages, list):
        try:
            check_message_count(messages, settings)
        except PolicyError as err:
            raise legacy_refusal(err) from None


@ai_route("/api/ai/chat/completion")
async def create_chat_completion(
    request: Request, raw: bytes, principal: Principal, gateway: Gateway
) -> Response:
    """Chat completion in the legacy camelCase schema."""
    settings, upstream = gateway.settings, gateway.upstream
    chat = read_legacy(
        request, raw, ChatCompletionRequest, settings, lambda body: _count_messages(body, settings)
    )
    if settings.log_prompts:
        log.info("prompt: %s", orjson.dumps(chat.model_dump(by_alias=True)).decode())
    try:
        body = to_upstream_chat(chat, max_tokens_cap=settings.max_completion_tokens)
        await apply_policy(
            body, user_id=principal.id, settings=settings, assets=gateway.assets, surface="legacy"
        )
    except (InvalidInputError, PolicyError) as err:
        # Past validation the legacy stream route had committed to SSE: a missing tool_call_id
        # or a model that is not enabled are events there. Our own limits and the asset policy
        # answer before the stream, like validation.
        if chat.stream and (isinstance(err, InvalidInputError) or err.rule == "model"):
            return sse_response(single_event(error_frame(err.message)), settings)
        raise legacy_refusal(err) if isinstance(err, PolicyError) else err from None
    if chat.stream:
        return sse_response(legacy_relay(upstream, body, gateway.shutdown), settings)
    answer, headers = await call_upstream(upstream, "chat/completions", body)
    try:
        check_choices(answer)
    except UpstreamFailure as failure:
        secret = settings.openrouter_api_key.get_secret_value()
        raise to_legacy_error(failure, secret) from failure
    return json_response(from_upstream_chat(answer, body["model"]), headers)

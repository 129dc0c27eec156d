"""The legacy AI routes, `/api/ai/*`: chat (JSON or Server-Sent Events), images, embeddings.

Each handler is the parse, policy, admission, upstream and translate stages of one call
(`app/pipeline.py`); refusals and upstream failures it raises reach the caller in the legacy
envelope through `LEGACY` (`app/legacy/errors.py`).
"""

from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response

from app.config import Settings
from app.errors import InvalidInputError, UpstreamError
from app.legacy.body import read_legacy
from app.legacy.clients import is_python_sdk
from app.legacy.configured import call_config, prepend_to_chat, prepend_to_image, prompt_added
from app.legacy.errors import legacy_refusal
from app.legacy.media import (
    from_upstream_embeddings,
    from_upstream_image,
    to_upstream_embeddings,
    to_upstream_image,
)
from app.legacy.python_sdk import sdk_image
from app.legacy.schemas import ChatCompletionRequest, EmbeddingsRequest, ImageGenerationRequest
from app.legacy.stream import error_frame, legacy_relay
from app.legacy.translate import from_upstream_chat, to_upstream_chat
from app.pipeline import Call, Outcome, generation_header, json_response
from app.policy import PolicyError, apply_policy, check_message_count, check_models
from app.streams.relay import sse_response
from app.upstream.failures import check_choices


async def single_event(event: bytes) -> AsyncIterator[bytes]:
    yield event


def _count_messages(body: Any, settings: Settings) -> None:
    """MAX_MESSAGES before validation: 300,000 valid messages took 5.5 s to validate, only to
    be refused by this limit afterwards."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if isinstance(messages, list):
        check_message_count(messages, settings)


async def create_chat_completion(call: Call) -> Response:
    """Chat completion in the legacy camelCase schema."""
    gateway = call.gateway
    settings, upstream = gateway.settings, gateway.upstream
    chat = read_legacy(call, ChatCompletionRequest, lambda body: _count_messages(body, settings))
    call.requested_model = chat.model
    try:
        body = to_upstream_chat(chat, max_tokens_cap=settings.max_completion_tokens)
        config = await call_config(call, body["model"])
        chars = await apply_policy(
            body,
            user_id=call.principal.id,
            settings=settings,
            assets=gateway.assets,
            surface="legacy",
        )
    except (InvalidInputError, PolicyError) as err:
        # Past validation the legacy stream route had committed to SSE: a missing tool_call_id
        # or a model that is not enabled are events there. Our own limits and the asset policy
        # answer before the stream, like validation.
        if chat.stream and (isinstance(err, InvalidInputError) or err.rule == "model"):
            call.finish(Outcome("refused", 200))  # a 200 stream, but the call was refused
            return sse_response(single_event(error_frame(err.message)), settings)
        raise legacy_refusal(err) if isinstance(err, PolicyError) else err from None
    # After the policy: the caller's limits are not spent on the administrator's prompt.
    prepend_to_chat(body, config)
    call.prompt_chars = chars + prompt_added(config)
    await call.admit(body)
    if chat.stream:
        return sse_response(legacy_relay(upstream, body, gateway.shutdown, call), settings, call)
    answer, headers = await upstream.send_json("chat/completions", body)
    call.usage.read_answer(answer)
    check_choices(answer, settings.openrouter_api_key.get_secret_value())
    return json_response(from_upstream_chat(answer, body["model"]), generation_header(headers))


async def create_image(call: Call) -> Response:
    """Generate images; the answer collects every choice's images."""
    gateway = call.gateway
    settings = gateway.settings
    image = read_legacy(call, ImageGenerationRequest)
    call.requested_model = image.model
    body = to_upstream_image(image)
    config = await call_config(call, image.model)
    chars = await apply_policy(
        body, user_id=call.principal.id, settings=settings, assets=gateway.assets, surface="legacy"
    )
    prepend_to_image(body, config)
    call.prompt_chars = chars + prompt_added(config)
    await call.admit(body)
    answer, headers = await gateway.upstream.send_json(
        "chat/completions", body, timeout_s=settings.image_upstream_timeout_s
    )
    call.usage.read_answer(answer)
    result = from_upstream_image(answer, image.model)
    if is_python_sdk(call.user_agent):
        result = sdk_image(result)
    return json_response(result, generation_header(headers))


async def create_embeddings(call: Call) -> Response:
    """Embed a string or a list of strings (floats upstream, base64 made here)."""
    gateway = call.gateway
    embeddings = read_legacy(call, EmbeddingsRequest)
    call.requested_model = embeddings.model
    check_models({"model": embeddings.model}, gateway.settings)
    body = to_upstream_embeddings(embeddings)
    await call.admit(body)
    answer, headers = await gateway.upstream.send_json("embeddings", body)
    call.usage.read_answer(answer)
    try:
        # The Python SDK's model reads floats only, whatever encoding it let its caller ask for.
        encoding = None if is_python_sdk(call.user_agent) else embeddings.encoding_format
        result = from_upstream_embeddings(answer, encoding)
    except ValueError as err:
        # OpenRouter has answered 200 with `data: []`; that is a failure, not an empty success.
        raise UpstreamError("The AI provider returned no embeddings.", status_code=502) from err
    return json_response(result, generation_header(headers))

"""How the legacy routes show an upstream failure, in one place (each case pinned by
tests/test_upstream_errors.py).

402 → 402 BILLING_INSUFFICIENT_BALANCE; 401/403 → 401 AI_INVALID_API_KEY (the *gateway's* key is
bad, not the caller's); 429 → 429 RATE_LIMITED; any other status S → S AI_UPSTREAM_UNAVAILABLE
"<S> <upstream message>"; a network failure → 502 "Connection error."; a timeout → 504.
An error inside a 200 body takes its status from an integer `error.code`, else 502.
"""

import orjson

from app.errors import GatewayError, InvalidInputError, UpstreamError
from app.pipeline import Surface
from app.policy import PolicyError
from app.redact import redact_secret
from app.upstream.failures import (
    MAX_MESSAGE_CHARS,
    UpstreamFailure,
    error_object,
    inband_status,
)


def upstream_message(status: int, payload: object, text: str, secret: str) -> str:
    """`APIError.makeMessage` of openai-node, which produced the legacy messages, key scrubbed."""
    error = error_object(payload)
    if isinstance(error, dict) and error.get("message"):
        raw = error["message"]
        msg = raw if isinstance(raw, str) else orjson.dumps(raw).decode()
    elif error:
        msg = orjson.dumps(error).decode()
    elif payload is not None:
        msg = orjson.dumps(payload).decode()
    else:
        msg = text.strip()
    msg = redact_secret(msg, secret)[:MAX_MESSAGE_CHARS]  # redact, then cut: never the reverse
    return f"{status} {msg}" if msg else f"{status} status code (no body)"


def to_legacy_error(failure: UpstreamFailure, secret: str = "") -> UpstreamError:
    if failure.kind in ("connect", "broken"):
        # "broken": answered, then cut off; it was not sent again (DESIGN, billing safety).
        return UpstreamError("Connection error.", status_code=502)
    if failure.kind == "busy":
        return UpstreamError(
            "The AI gateway is busy right now; please retry shortly.",
            status_code=503,
            code="AI_GATEWAY_BUSY",
            next_actions="Retry after the Retry-After delay.",
            headers={"Retry-After": failure.headers.get("retry-after", "1")},
        )
    if failure.kind == "timeout":
        return UpstreamError("Request timed out.", status_code=504)
    if failure.kind == "invalid":
        return UpstreamError("Upstream returned an invalid response.", status_code=502)
    status = inband_status(failure.payload) if failure.kind == "inband" else failure.status or 502
    if status == 402:
        return UpstreamError(
            "AI credit limit reached.",
            status_code=402,
            code="BILLING_INSUFFICIENT_BALANCE",
            next_actions="Add credits to your OpenRouter account.",
        )
    if status in (401, 403):
        return UpstreamError(
            "AI provider authentication failed. Check your API key configuration.",
            status_code=401,
            code="AI_INVALID_API_KEY",
            next_actions="Set a valid OPENROUTER_API_KEY or update Model Gateway settings.",
        )
    if status == 429:
        retry_after = failure.headers.get("retry-after")
        return UpstreamError(
            "AI provider rate limit exceeded. Please wait before retrying.",
            status_code=429,
            code="RATE_LIMITED",
            next_actions="Wait a moment and retry, or check your API key rate limits.",
            headers={"Retry-After": retry_after} if retry_after else None,
        )
    message = upstream_message(status, failure.payload, failure.text, secret)
    return UpstreamError(message, status_code=status if 400 <= status <= 599 else 502)


def legacy_refusal(err: PolicyError) -> GatewayError:
    """A policy refusal in the legacy envelope; a refused model reads as the legacy backend's
    own refusal did (`AI_INVALID_MODEL`)."""
    if err.rule == "model":
        return GatewayError(err.message, status_code=400, code="AI_INVALID_MODEL")
    return InvalidInputError(err.message, next_actions=err.next_actions)


# `/api/ai/*`: policy refusals and upstream failures in the legacy envelope.
LEGACY = Surface(legacy_refusal, to_legacy_error)

"""HTTP error bodies and in-band error objects, as OpenRouter sends them.

Every variant the gateway must accept is reproduced verbatim: ``user_id`` at top level,
``metadata.raw`` as a JSON *string*, the 2026 availability variant without ``code``, and rate-limit
values repeated as strings in ``metadata.headers``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .dsl import ScenarioSpec

USER_ID = "user_2mockUser0000000000000000"
MISSING_AUTH = {"error": {"message": "Missing Authentication header", "code": 401}}
USER_NOT_FOUND = {"error": {"message": "User not found.", "code": 401}}

_SPEC_EXAMPLES = {
    408: "Operation timed out. Please try again later.",
    413: "Request payload too large",
    422: "Invalid argument",
    500: "Internal Server Error",
    503: "Service temporarily unavailable",
    524: "Request timed out. Please try again later.",
    529: "Provider returned error",
}

ERROR_TYPES = {
    400: "invalid_request",
    401: "authentication",
    402: "payment_required",
    403: "permission_denied",
    404: "not_found",
    408: "timeout",
    413: "payload_too_large",
    422: "unprocessable",
    429: "rate_limit_exceeded",
    500: "server",
    502: "provider_unavailable",
    503: "provider_overloaded",
}

_RAW_502 = (
    '{"error":{"message":"The server had an error processing your request.",'
    '"type":"server_error","param":null,"code":null}}'
)


def _next_minute_ms(now: float) -> int:
    return (int(now) // 60 + 1) * 60_000


def _next_midnight_ms(now: float) -> int:
    today = dt.datetime.fromtimestamp(now, tz=dt.UTC).date()
    midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return int(midnight.timestamp()) * 1000


def _rate_limited(spec: ScenarioSpec, now: float) -> tuple[dict[str, Any], dict[str, str]]:
    if spec.get_flag("daily"):
        limit, reset, source = "50", _next_midnight_ms(now), "openrouter_free_tier_daily"
        message = (
            "Rate limit exceeded: free-models-per-day. "
            "Add 10 credits to unlock 1000 free model requests per day"
        )
    else:
        limit, reset, source = "20", _next_minute_ms(now), "openrouter_free_tier_minute"
        message = "Rate limit exceeded: free-models-per-min. "
    headers = {
        "X-RateLimit-Limit": limit,
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(reset),
    }
    body: dict[str, Any] = {
        "error": {
            "message": spec.params.get("message", message),
            "code": 429,
            "metadata": {"headers": headers, "limit_source": source, "provider_name": None},
        },
        "user_id": USER_ID,
    }
    return body, dict(headers)  # a copy: Retry-After must not leak into metadata.headers


def http_error(
    spec: ScenarioSpec, model: str, now: float
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, JSON body and extra headers for ``error?status=S``."""
    status = spec.get_int("status", 502)
    message = spec.params.get("message")
    headers: dict[str, str] = {}
    body: dict[str, Any]
    if status == 429:
        body, headers = _rate_limited(spec, now)
    elif status == 400:
        text = message or f"{model} is not a valid model ID"
        body = {"error": {"message": text, "code": 400}, "user_id": USER_ID}
    elif status == 401:
        body = {"error": {"message": message or "User not found.", "code": 401}}
    elif status == 402:
        text = message or (
            "This request requires more credits, or fewer max_tokens. You requested up to 65536 "
            "tokens, but can only afford 33333. To increase, visit "
            "https://openrouter.ai/settings/credits and upgrade to a paid account"
        )
        metadata: dict[str, Any] = {
            "limit_source": "openrouter_credits",
            "remedy_hint": "Add credits at https://openrouter.ai/settings/credits",
            "provider_name": None,
        }
        body = {"error": {"message": text, "code": 402, "metadata": metadata}, "user_id": USER_ID}
    elif status == 403:
        text = message or (
            f'{model} requires moderation on Meta. Your input was flagged for "misc". '
            "No credits were charged."
        )
        metadata_403: dict[str, Any] = {
            "reasons": ["misc"],
            "flagged_input": "You are a helpful AI assistant for a food delivery...i want to order",
            "provider_name": "Meta",
            "model_slug": model,
        }
        body = {"error": {"message": text, "code": 403, "metadata": metadata_403}}
    elif status == 404:
        availability = {
            "code": "no_endpoints",
            "retryable": False,
            "retry_after": None,
            "requested_models": [model],
            "fallback_models": [],
            "excluded_by": None,
            "constraint": None,
            "docs_url": "https://openrouter.ai/docs/api/reference/errors",
        }
        text = message or f"No endpoints found for {model}."
        body = {
            "error": {
                "message": text,
                "error_type": "not_found",
                "http_status": 404,
                "availability": availability,
            }
        }
    elif status == 502:
        metadata = {"raw": _RAW_502, "provider_name": "OpenAI"}
        text = message or "Provider returned error"
        body = {"error": {"message": text, "code": 502, "metadata": metadata}}
    else:
        text = message or _SPEC_EXAMPLES.get(status, "Provider returned error")
        body = {"error": {"code": status, "message": text}}
    retry_after = spec.params.get("retry_after")
    if retry_after:
        headers["Retry-After"] = retry_after
    return status, body, headers


def inband_error(code: int | str, message: str | None) -> dict[str, Any]:
    """The ``error`` object of a 200 body or of a mid-stream error chunk."""
    status = code if isinstance(code, int) else 500
    text = message or ("Rate limit exceeded" if status == 429 else "Provider returned error")
    return {
        "code": code,
        "message": text,
        "metadata": {"error_type": ERROR_TYPES.get(status, "server")},
    }


def parse_code(raw: str | None, default: int) -> int | str:
    """``code=502`` gives an int; anything non-numeric (``server_error``) stays a string."""
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return raw

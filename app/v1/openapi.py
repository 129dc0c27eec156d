"""What `/openapi.json` shows of `/api/v1/*`: OpenAI's error envelope, and deliberately loose
request and answer schemas.

Documentation only. The routes pass OpenRouter's whole API through (routes.py), so a schema
here names the fields the gateway itself reads or governs and allows every other
(`additionalProperties: true`); the answers are OpenRouter's own, described as loosely.
"""

from typing import Any

from typing_extensions import TypedDict  # pydantic reads only this TypedDict before 3.12

from app.openapi import Responses, error_responses, json_answer, sse_event


class OpenAIErrorDetail(TypedDict):
    message: str
    type: str
    code: str


class OpenAIError(TypedDict):
    """OpenAI's error envelope, which the `openai` SDKs parse into typed exceptions."""

    error: OpenAIErrorDetail


_CALLER_ERRORS = {
    401: "authentication_error: no or an invalid credential",
    403: "permission_error: an anonymous caller while AI_ALLOW_ANON is off",
}
AI_ERRORS = error_responses(
    OpenAIError,
    {
        400: "invalid_request_error: bad JSON, a refused model or asset, a gateway limit; "
        "an upstream 400 is passed on",
        **_CALLER_ERRORS,
        402: "insufficient_quota: the OpenRouter account is out of credits",
        413: "invalid_request_error: the body is over MAX_REQUEST_BYTES",
        429: "rate_limit_error from the upstream (Retry-After when it sent one)",
        502: "api_error: the upstream failed, broke off, could not be reached, or refused the "
        "gateway's own key; another upstream status is passed on likewise",
        503: "api_error: gateway_busy, no upstream connection free (Retry-After); "
        "AUTH_KEYS_UNAVAILABLE, no JWKS key to verify the token with (Retry-After)",
        504: "api_error: upstream_timeout, the upstream did not answer in time",
    },
)

_TOKENS = {
    "type": "integer",
    "minimum": 1,
    "description": "Capped at the gateway's MAX_COMPLETION_TOKENS; when neither bound is "
    "given, `max_tokens` is set to it.",
}
CHAT_REQUEST: dict[str, Any] = {
    "type": "object",
    "description": "OpenRouter's chat completions request, every field passed through (tools, "
    "response_format, reasoning, plugins, provider, …) under the gateway's policy; `user` is "
    "set to the caller's id.",
    "required": ["messages"],
    "properties": {
        "model": {"type": "string", "description": "Refused outside ALLOWED_MODELS"},
        "models": {"type": "array", "items": {"type": "string"}},
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role"],
                "properties": {
                    "role": {"type": "string"},
                    "content": {"description": "A string, or an array of content parts"},
                },
                "additionalProperties": True,
            },
        },
        "stream": {"type": "boolean", "description": "true: the answer is Server-Sent Events"},
        "max_tokens": _TOKENS,
        "max_completion_tokens": _TOKENS,
    },
    "additionalProperties": True,
}
EMBEDDINGS_REQUEST: dict[str, Any] = {
    "type": "object",
    "description": "OpenRouter's embeddings request, every field passed through; `user` is "
    "set to the caller's id.",
    "required": ["input"],
    "properties": {
        "model": {"type": "string", "description": "Refused outside ALLOWED_MODELS"},
        "input": {
            "description": "A string, an array of strings, or what else OpenRouter accepts",
        },
        "encoding_format": {"enum": ["float", "base64"]},
        "dimensions": {"type": "integer", "minimum": 1},
    },
    "additionalProperties": True,
}

_PASSED_ON = {"type": "object", "additionalProperties": True}
CHAT_ANSWER: dict[str, Any] = {
    **_PASSED_ON,
    "description": "OpenRouter's chat completion, as it sent it",
    "required": ["choices"],
    "properties": {"id": {"type": "string"}, "choices": {"type": "array"}},
}
# `data` is each upstream chunk as it came, then `[DONE]`; a failure mid-stream is one
# `{"error":{...}}` chunk and no `[DONE]`.
CHAT_EVENT = sse_event({"type": "string", "description": "A JSON chunk, or `[DONE]` last"})
EMBEDDINGS_ANSWER: dict[str, Any] = {
    **_PASSED_ON,
    "description": "OpenRouter's embeddings; base64 ones are encoded by the gateway",
    "required": ["data"],
    "properties": {"data": {"type": "array", "minItems": 1}},
}
_CATALOG_DOWN = "api_error: catalog_unavailable, none cached, upstream down"
MODELS: Responses = {
    200: json_answer(
        {
            **_PASSED_ON,
            "required": ["data"],
            "properties": {"data": {"type": "array", "items": _PASSED_ON}},
        },
        "OpenRouter's catalog, only the models this gateway allows.",
    ),
    **error_responses(
        OpenAIError,
        {
            **_CALLER_ERRORS,
            400: "invalid_request_error: invalid_filter, a modality list that is not one",
            503: _CATALOG_DOWN,
        },
    ),
}
PROVIDERS: Responses = {
    200: json_answer(
        {**_PASSED_ON, "required": ["data"], "properties": {"data": {"type": "array"}}},
        "OpenRouter's providers, as it sent them.",
    ),
    **error_responses(OpenAIError, {**_CALLER_ERRORS, 503: _CATALOG_DOWN}),
}
ENDPOINTS: Responses = {
    200: json_answer(
        {**_PASSED_ON, "required": ["data"], "properties": {"data": _PASSED_ON}},
        "The model and the endpoints (providers) serving it, as OpenRouter sent them.",
    ),
    **error_responses(
        OpenAIError,
        {
            **_CALLER_ERRORS,
            404: "not_found: model_not_found, unknown here or not allowed on this gateway",
            502: "api_error: the upstream failed",
        },
    ),
}

# The ledger's routes (app/v1/usage.py).
_LEDGER_ERRORS = {
    400: "invalid_request_error: a missing or bad query parameter",
    **_CALLER_ERRORS,
    503: "api_error: ledger_disabled, usage is not recorded on this gateway",
}
GENERATION: Responses = {
    200: json_answer(
        {**_PASSED_ON, "required": ["data"], "properties": {"data": _PASSED_ON}},
        "OpenRouter's record of the generation (its `GET /generation`).",
    ),
    **error_responses(
        OpenAIError,
        {
            **_LEDGER_ERRORS,
            404: "not_found_error: not a generation of the caller's, or not yet known upstream",
            502: "api_error: the upstream failed or could not be reached",
            504: "api_error: upstream_timeout",
        },
    ),
}
_PERIOD = {
    "type": "object",
    "required": ["requests", "prompt_tokens", "completion_tokens", "total_tokens", "cost"],
    "properties": {
        "start": {"type": ["string", "null"], "format": "date-time"},
        "end": {"type": ["string", "null"], "format": "date-time"},
        "requests": {"type": "integer"},
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
        "cost": {"type": "number", "description": "USD, OpenRouter's `usage.cost` summed"},
    },
}
USAGE: Responses = {
    200: json_answer(
        {
            "type": "object",
            "required": ["object", "user", "today", "month"],
            "properties": {
                "object": {"const": "usage"},
                "user": {"type": "string"},
                "today": _PERIOD,
                "month": _PERIOD,
                "range": {**_PERIOD, "description": "When `start` or `end` is given"},
            },
        },
        "The caller's own usage: today, this month (UTC), and the range asked for.",
    ),
    **error_responses(OpenAIError, _LEDGER_ERRORS),
}

# The caller's limits (app/v1/limits.py).
_LIMIT = {
    "type": "object",
    "required": ["kind", "limit", "used", "remaining", "resets_in_s", "resets_at"],
    "properties": {
        "kind": {
            "enum": [
                "concurrent_calls",
                "requests_per_minute",
                "tokens_per_day",
                "usd_per_day",
                "usd_per_month",
            ]
        },
        "limit": {"type": "number"},
        "used": {"type": "number", "description": "in flight, spent, or reserved by calls running"},
        "remaining": {"type": "number"},
        "resets_in_s": {"type": "integer", "description": "until the limit is whole again"},
        "resets_at": {"type": "string", "format": "date-time"},
    },
}
LIMITS: Responses = {
    200: json_answer(
        {
            "type": "object",
            "required": ["object", "user", "limits"],
            "properties": {
                "object": {"const": "limits"},
                "user": {"type": "string"},
                "limits": {"type": "array", "items": _LIMIT},
            },
        },
        "The caller's own limits, use and resets; an empty list when nothing limits the caller.",
    ),
    **error_responses(
        OpenAIError,
        {**_CALLER_ERRORS, 503: "api_error: limits_unavailable, the limit store is unreachable"},
    ),
}

# Video generation (app/v1/videos.py).
VIDEO_REQUEST: dict[str, Any] = {
    "type": "object",
    "description": "OpenRouter's video request, passed through under the gateway's policy: the "
    "model allow-list, the asset policy for `frame_images` and `input_references`, and "
    "`callback_url` dropped unless VIDEO_CALLBACK_HOSTS allows its host.",
    "required": ["model", "prompt"],
    "properties": {
        "model": {"type": "string"},
        "prompt": {"type": "string", "minLength": 1},
        "frame_images": {"type": "array", "items": {"type": "object"}},
        "input_references": {"type": "array", "items": {"type": "object"}},
        "callback_url": {"type": "string"},
    },
    "additionalProperties": True,
}
_JOB = {
    **_PASSED_ON,
    "required": ["id", "polling_url", "status"],
    "properties": {
        "id": {"type": "string"},
        "polling_url": {"type": "string", "description": "this gateway's, relative"},
        "status": {"type": "string"},
        "unsigned_urls": {
            "type": "array",
            "items": {"type": "string"},
            "description": "this gateway's content routes, once completed",
        },
    },
}
VIDEO_SUBMITTED = _JOB
_JOB_ERRORS = {
    **_LEDGER_ERRORS,
    404: "not_found_error: job_not_found, not a job of the caller's (nothing asked upstream)",
    502: "api_error: the upstream failed or could not be reached",
    504: "api_error: upstream_timeout",
}
VIDEO_JOB: Responses = {
    200: json_answer(_JOB, "The job as OpenRouter reports it, its URLs this gateway's."),
    **error_responses(OpenAIError, _JOB_ERRORS),
}
VIDEO_CONTENT: Responses = {
    200: {
        "description": "The video's bytes, streamed through.",
        "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
    },
    **error_responses(OpenAIError, _JOB_ERRORS),
}
VIDEO_MODELS: Responses = {
    200: json_answer(
        {**_PASSED_ON, "required": ["data"], "properties": {"data": {"type": "array"}}},
        "OpenRouter's video models and their capabilities, only those this gateway allows.",
    ),
    **error_responses(OpenAIError, {**_CALLER_ERRORS, 502: "api_error: the upstream failed"}),
}

"""What `/openapi.json` shows of the legacy surface: its error envelope, its answers, its errors.

Documentation only. The request schemas are the pydantic models that parse the bodies
(schemas.py); the answers are made by translate.py, media.py, catalog.py and admin.py, and
tests/test_openapi_schemathesis.py checks real answers against what is written here.
"""

from typing import Any, NotRequired

from typing_extensions import TypedDict  # pydantic reads only this TypedDict before 3.12

from app.openapi import error_responses, json_object, sse_event


class LegacyError(TypedDict):
    """The legacy error envelope: the InsForge SDK copies these keys onto its error object."""

    error: str
    message: str
    statusCode: int
    nextActions: NotRequired[str]


AI_ERRORS = error_responses(
    LegacyError,
    {
        400: "INVALID_INPUT: the body failed validation (zod's wording) or a gateway limit; "
        "AI_INVALID_MODEL: the model is not enabled; an upstream 400 is passed on",
        401: "AUTH_*: no or an invalid credential; AI_INVALID_API_KEY: the upstream refused "
        "the gateway's own key",
        402: "BILLING_INSUFFICIENT_BALANCE: the OpenRouter account is out of credits",
        403: "FORBIDDEN: an anonymous caller while AI_ALLOW_ANON is off",
        413: "INVALID_INPUT: the body is over MAX_REQUEST_BYTES",
        429: "RATE_LIMITED by the upstream (Retry-After when it sent one)",
        502: "AI_UPSTREAM_UNAVAILABLE: the upstream failed, broke off or could not be reached; "
        "another upstream status is passed on likewise",
        503: "AI_GATEWAY_BUSY: no upstream connection free (Retry-After), or the upstream is "
        "unavailable; AUTH_KEYS_UNAVAILABLE: no JWKS key to verify the token with (Retry-After)",
        504: "AI_UPSTREAM_UNAVAILABLE: the upstream did not answer in time",
    },
)
ADMIN_AUTH_ERRORS = {
    401: "AUTH_*: no or an invalid admin credential",
    403: "AUTH_UNAUTHORIZED: the caller is not an admin",
}

STRING = {"type": "string"}
_USAGE = {
    "type": "object",
    "properties": {
        "promptTokens": {"type": "number"},
        "completionTokens": {"type": "number"},
        "totalTokens": {"type": "number"},
    },
}
_METADATA = {
    "type": "object",
    "required": ["model"],
    "properties": {"model": STRING, "usage": _USAGE},
}
_TOOL_CALLS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "id": STRING,
            "type": {"const": "function"},
            "function": {
                "type": "object",
                "properties": {"name": STRING, "arguments": STRING},
            },
        },
    },
}
_ANNOTATIONS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"type": {"const": "url_citation"}, "urlCitation": {"type": "object"}},
    },
}

CHAT_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["text", "metadata"],
    "properties": {
        "text": STRING,
        "tool_calls": _TOOL_CALLS,
        "annotations": _ANNOTATIONS,
        "metadata": _METADATA,
    },
}
# The stream's events, in order: `chunk`s, `tokenUsage`, `tool_calls`, `annotations`, `done`;
# a failure after the first byte is one `error` event, and no `done`.
CHAT_EVENT = sse_event(
    {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": {
            "type": "object",
            "minProperties": 1,
            "properties": {
                "chunk": STRING,
                "tokenUsage": _USAGE,
                "tool_calls": _TOOL_CALLS,
                "annotations": _ANNOTATIONS,
                "done": {"const": True},
                "error": {"const": True},
                "message": STRING,
            },
        },
    }
)
IMAGE_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["images", "metadata"],
    "properties": {
        "images": {
            "type": "array",
            "items": {
                "type": "object",
                "description": "`{type:'image_url', image_url:{url}}` to the Python SDK",
                "properties": {
                    "type": {"enum": ["imageUrl", "image_url"]},
                    "imageUrl": STRING,
                    "image_url": {"type": "object", "properties": {"url": STRING}},
                },
            },
        },
        "text": STRING,
        "metadata": _METADATA,
        "model": {**STRING, "description": "Python SDK only"},
        "count": {"type": "integer", "description": "Python SDK only"},
    },
}
_EMBEDDING = json_object(
    ["object", "embedding", "index"],
    {
        "object": {"const": "embedding"},
        "embedding": {
            "description": "Floats, or base64 of little-endian float32 when asked",
            "anyOf": [{"type": "array", "items": {"type": "number"}}, STRING],
        },
        "index": {"type": "integer"},
    },
)
EMBEDDINGS_ANSWER = json_object(
    ["object", "data", "metadata"],
    {
        "object": {"const": "list"},
        "data": {"type": "array", "items": _EMBEDDING},
        "metadata": _METADATA,
    },
)

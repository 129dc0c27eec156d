"""What `/openapi.json` shows of the legacy surface: its error envelope, its answers, its errors.

Documentation only. The request schemas are the pydantic models that parse the bodies
(schemas.py); the answers are made by translate.py, media.py, catalog.py and admin.py, and
tests/test_openapi_schemathesis.py checks real answers against what is written here.
"""

from typing import Any, NotRequired

from typing_extensions import TypedDict  # pydantic reads only this TypedDict before 3.12

from app.openapi import Responses, error_responses, json_answer, json_object, sse_event


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
        "unavailable",
        504: "AI_UPSTREAM_UNAVAILABLE: the upstream did not answer in time",
    },
)
_ADMIN_AUTH_ERRORS = {
    401: "AUTH_*: no or an invalid admin credential",
    403: "AUTH_UNAUTHORIZED: the caller is not an admin",
}

_STRING = {"type": "string"}
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
    "properties": {"model": _STRING, "usage": _USAGE},
}
_TOOL_CALLS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "id": _STRING,
            "type": {"const": "function"},
            "function": {
                "type": "object",
                "properties": {"name": _STRING, "arguments": _STRING},
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
        "text": _STRING,
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
                "chunk": _STRING,
                "tokenUsage": _USAGE,
                "tool_calls": _TOOL_CALLS,
                "annotations": _ANNOTATIONS,
                "done": {"const": True},
                "error": {"const": True},
                "message": _STRING,
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
                    "imageUrl": _STRING,
                    "image_url": {"type": "object", "properties": {"url": _STRING}},
                },
            },
        },
        "text": _STRING,
        "metadata": _METADATA,
        "model": {**_STRING, "description": "Python SDK only"},
        "count": {"type": "integer", "description": "Python SDK only"},
    },
}
_EMBEDDING = json_object(
    ["object", "embedding", "index"],
    {
        "object": {"const": "embedding"},
        "embedding": {
            "description": "Floats, or base64 of little-endian float32 when asked",
            "anyOf": [{"type": "array", "items": {"type": "number"}}, _STRING],
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

_MODEL_ENTRY = {
    "type": "object",
    "required": ["id", "modelId", "provider", "inputModality", "outputModality"],
    "properties": {
        "id": _STRING,
        "created": {"type": "number"},
        "modelId": _STRING,
        "provider": {"const": "openrouter"},
        "inputModality": {"type": "array", "items": _STRING},
        "outputModality": {"type": "array", "items": _STRING},
        "inputPrice": {"type": "number", "description": "USD per million tokens"},
        "outputPrice": {"type": "number", "description": "USD per million tokens"},
        "inputPriceLabel": _STRING,
        "outputPriceLabel": _STRING,
    },
}
_KEY_STATUS = {
    "type": "object",
    "required": ["configured", "maskedKey"],
    "properties": {
        "configured": {"type": "boolean"},
        "maskedKey": {"type": "string", "description": "At most `sk-or-v1` and the last 4"},
    },
}
_SDK_GROUP = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "provider": {"const": "openrouter"},
            "configured": {"type": "boolean"},
            "models": {"type": "array", "items": {"type": "object"}},
        },
    },
}
_SDK_MODELS = {
    "type": "object",
    "description": "To `User-Agent: InsForge-Python/…` only: OpenRouter's entries by output",
    "properties": {"text": _SDK_GROUP, "image": _SDK_GROUP},
}
MODELS: Responses = {
    200: json_answer(
        {"anyOf": [{"type": "array", "items": _MODEL_ENTRY}, _SDK_MODELS]},
        "The catalog: the legacy list, or the Python SDK's groups.",
    ),
    **error_responses(
        LegacyError,
        {
            **_ADMIN_AUTH_ERRORS,
            503: "AI_UPSTREAM_UNAVAILABLE: no catalog cached and the upstream is down",
        },
    ),
}
CONFIG: Responses = {
    200: json_answer(
        {
            "type": "object",
            "required": ["apiKey", "managementKey"],
            "properties": {
                "apiKey": _KEY_STATUS,
                "managementKey": {
                    "type": "object",
                    "properties": {"configured": {"type": "boolean"}},
                },
            },
        },
        "Whether a key is configured, and its masked form.",
    ),
    **error_responses(LegacyError, _ADMIN_AUTH_ERRORS),
}
KEY_STATUS: Responses = {
    200: json_answer(_KEY_STATUS, "The key's masked status."),
    **error_responses(
        LegacyError, {400: "INVALID_INPUT: not a supported provider", **_ADMIN_AUTH_ERRORS}
    ),
}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
CREDITS: Responses = {
    200: json_answer(
        json_object(
            ["usage", "limit", "remaining"],
            {
                "usage": {"type": "number", "description": "USD used by the key, all time"},
                "limit": {**_NUMBER_OR_NULL, "description": "USD; null when unlimited"},
                "remaining": {**_NUMBER_OR_NULL, "description": "USD; null when unlimited"},
                "credits": {**_NUMBER_OR_NULL, "description": "Python SDK only: the limit"},
            },
        ),
        "The OpenRouter key's credits (its `GET /key`).",
    ),
    **error_responses(
        LegacyError,
        {
            **_ADMIN_AUTH_ERRORS,
            402: "BILLING_INSUFFICIENT_BALANCE",
            502: "AI_UPSTREAM_UNAVAILABLE: the upstream failed or could not be reached",
            504: "AI_UPSTREAM_UNAVAILABLE: the upstream did not answer in time",
        },
    ),
}

# The usage routes (app/legacy/usage.py): read from the gateway's own ledger.
_INT_OR_NULL = {"type": ["integer", "null"]}
_STRING_OR_NULL = {"type": ["string", "null"]}
_USAGE_RECORD = json_object(
    ["id", "createdAt"],
    {
        "id": _STRING,
        "configId": _STRING_OR_NULL,
        "inputTokens": _INT_OR_NULL,
        "outputTokens": _INT_OR_NULL,
        "promptTokens": _INT_OR_NULL,
        "completionTokens": _INT_OR_NULL,
        "totalTokens": _INT_OR_NULL,
        "cost": {**_NUMBER_OR_NULL, "description": "USD, OpenRouter's `usage.cost`"},
        "imageCount": _INT_OR_NULL,
        "imageResolution": {"type": "null"},
        "createdAt": {"type": "string", "format": "date-time"},
        "modelId": _STRING_OR_NULL,
        "model": _STRING_OR_NULL,
        "provider": _STRING_OR_NULL,
        "generationId": _STRING_OR_NULL,
        "userId": _STRING,
        "status": {"type": "integer"},
    },
)
_USAGE_GROUP = json_object(
    ["requests", "tokens", "cost"],
    {
        "requests": {"type": "integer"},
        "inputTokens": {"type": "integer"},
        "outputTokens": {"type": "integer"},
        "tokens": {"type": "integer"},
        "imageCount": {"type": "integer"},
        "cost": {"type": "number"},
    },
)
_USAGE_ERRORS = error_responses(
    LegacyError,
    {
        400: "INVALID_INPUT: a bad date, limit, offset or groupBy",
        **_ADMIN_AUTH_ERRORS,
        503: "LEDGER_DISABLED: usage is not recorded on this gateway",
    },
)
USAGE: Responses = {
    200: json_answer(
        {
            "oneOf": [
                json_object(
                    ["records", "total"],
                    {
                        "records": {"type": "array", "items": _USAGE_RECORD},
                        "total": {"type": "integer"},
                    },
                ),
                {"type": "array", "items": _USAGE_RECORD, "description": "Python SDK only"},
            ]
        },
        "One page of calls, newest first, and how many there are in the range.",
    ),
    **_USAGE_ERRORS,
}
USAGE_SUMMARY: Responses = {
    200: json_answer(
        json_object(
            ["totalRequests", "totalTokens", "totalCost", "byModel"],
            {
                "totalInputTokens": {"type": "integer"},
                "totalOutputTokens": {"type": "integer"},
                "totalTokens": {"type": "integer"},
                "totalImageCount": {"type": "integer"},
                "totalRequests": {"type": "integer"},
                "totalCost": {"type": "number", "description": "USD"},
                "byModel": {"type": "object", "additionalProperties": _USAGE_GROUP},
                "byUser": {
                    "type": "object",
                    "additionalProperties": _USAGE_GROUP,
                    "description": "With groupBy=user only",
                },
            },
        ),
        "Totals over the range, per model (and per user with groupBy=user).",
    ),
    **_USAGE_ERRORS,
}
USAGE_CONFIG: Responses = {
    200: json_answer(
        {"type": "array", "items": _USAGE_RECORD},
        "Every call made through the configuration in the range, newest first.",
    ),
    **_USAGE_ERRORS,
}

# AI configurations (app/legacy/configurations.py).
_CONFIG_ERRORS = {
    **_ADMIN_AUTH_ERRORS,
    503: "LEDGER_DISABLED: configurations live in the usage ledger, which is off",
}
_MODALITIES = {"type": "array", "items": {"enum": ["text", "image", "audio"]}}
_COUNT = {"type": "number"}
_CONFIGURATION = json_object(
    ["id", "inputModality", "outputModality", "provider", "modelId", "systemPrompt", "usageStats"],
    {
        "id": _STRING,
        "inputModality": _MODALITIES,
        "outputModality": _MODALITIES,
        "provider": _STRING,
        "modelId": _STRING,
        "systemPrompt": {"type": ["string", "null"]},
        "usageStats": json_object(
            ["totalInputTokens", "totalOutputTokens", "totalTokens", "totalImageCount"]
            + ["totalRequests", "totalCost"],
            {
                "totalInputTokens": _COUNT,
                "totalOutputTokens": _COUNT,
                "totalTokens": _COUNT,
                "totalImageCount": _COUNT,
                "totalRequests": _COUNT,
                "totalCost": {**_COUNT, "description": "USD (not in the legacy answer)"},
            },
        ),
        "modality": {**_STRING, "description": "Python SDK only"},
        "createdAt": {**_STRING, "description": "Python SDK only"},
        "updatedAt": {**_STRING, "description": "Python SDK only"},
    },
)
_MESSAGE = json_object(["message"], {"message": _STRING})
CONFIG_CREATED: Responses = {
    201: json_answer(
        json_object(["id", "message"], {"id": _STRING, "message": _STRING}),
        "Created, or the model's configuration replaced and made active.",
    ),
    **error_responses(
        LegacyError, {400: "INVALID_INPUT: the body failed validation", **_CONFIG_ERRORS}
    ),
}
CONFIG_LIST: Responses = {
    200: json_answer(
        {"type": "array", "items": _CONFIGURATION},
        "The active configurations, with the usage of their served calls.",
    ),
    **error_responses(LegacyError, _CONFIG_ERRORS),
}
CONFIG_CHANGED: Responses = {
    200: json_answer(_MESSAGE, "Done."),
    **error_responses(
        LegacyError,
        {
            400: "INVALID_INPUT: the body failed validation",
            404: "NOT_FOUND: no such configuration",
            **_CONFIG_ERRORS,
        },
    ),
}

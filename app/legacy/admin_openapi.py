"""What `/openapi.json` shows of the legacy admin routes: the model catalog, the key's status,
credits, usage and configurations (admin.py, usage.py, configurations.py). Documentation only,
like openapi.py, whose envelope and shared pieces it uses."""

from app.legacy.openapi import (
    ADMIN_AUTH_ERRORS,
    STRING,
    LegacyError,
)
from app.openapi import Responses, error_responses, json_answer, json_object

_MODEL_ENTRY = {
    "type": "object",
    "required": ["id", "modelId", "provider", "inputModality", "outputModality"],
    "properties": {
        "id": STRING,
        "created": {"type": "number"},
        "modelId": STRING,
        "provider": {"const": "openrouter"},
        "inputModality": {"type": "array", "items": STRING},
        "outputModality": {"type": "array", "items": STRING},
        "inputPrice": {"type": "number", "description": "USD per million tokens"},
        "outputPrice": {"type": "number", "description": "USD per million tokens"},
        "inputPriceLabel": STRING,
        "outputPriceLabel": STRING,
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
            **ADMIN_AUTH_ERRORS,
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
    **error_responses(LegacyError, ADMIN_AUTH_ERRORS),
}
KEY_STATUS: Responses = {
    200: json_answer(_KEY_STATUS, "The key's masked status."),
    **error_responses(
        LegacyError, {400: "INVALID_INPUT: not a supported provider", **ADMIN_AUTH_ERRORS}
    ),
}
NUMBER_OR_NULL = {"type": ["number", "null"]}
CREDITS: Responses = {
    200: json_answer(
        json_object(
            ["usage", "limit", "remaining"],
            {
                "usage": {"type": "number", "description": "USD used by the key, all time"},
                "limit": {**NUMBER_OR_NULL, "description": "USD; null when unlimited"},
                "remaining": {**NUMBER_OR_NULL, "description": "USD; null when unlimited"},
                "credits": {**NUMBER_OR_NULL, "description": "Python SDK only: the limit"},
            },
        ),
        "The OpenRouter key's credits (its `GET /key`).",
    ),
    **error_responses(
        LegacyError,
        {
            **ADMIN_AUTH_ERRORS,
            402: "BILLING_INSUFFICIENT_BALANCE",
            502: "AI_UPSTREAM_UNAVAILABLE: the upstream failed or could not be reached",
            504: "AI_UPSTREAM_UNAVAILABLE: the upstream did not answer in time",
        },
    ),
}

# The usage routes (app/legacy/usage.py): read from the gateway's own ledger.
_CONFIG_ERRORS = {
    **ADMIN_AUTH_ERRORS,
    503: "LEDGER_DISABLED: configurations live in the usage ledger, which is off",
}
_MODALITIES = {"type": "array", "items": {"enum": ["text", "image", "audio"]}}
_COUNT = {"type": "number"}
_CONFIGURATION = json_object(
    ["id", "inputModality", "outputModality", "provider", "modelId", "systemPrompt", "usageStats"],
    {
        "id": STRING,
        "inputModality": _MODALITIES,
        "outputModality": _MODALITIES,
        "provider": STRING,
        "modelId": STRING,
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
        "modality": {**STRING, "description": "Python SDK only"},
        "createdAt": {**STRING, "description": "Python SDK only"},
        "updatedAt": {**STRING, "description": "Python SDK only"},
    },
)
_MESSAGE = json_object(["message"], {"message": STRING})
CONFIG_CREATED: Responses = {
    201: json_answer(
        json_object(["id", "message"], {"id": STRING, "message": STRING}),
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

"""What `/openapi.json` shows of the legacy admin usage routes (usage.py). Documentation only."""

from app.legacy.admin_openapi import NUMBER_OR_NULL
from app.legacy.openapi import ADMIN_AUTH_ERRORS, STRING, LegacyError
from app.openapi import Responses, error_responses, json_answer, json_object

_INT_OR_NULL = {"type": ["integer", "null"]}
_STRING_OR_NULL = {"type": ["string", "null"]}
_USAGE_RECORD = json_object(
    ["id", "createdAt"],
    {
        "id": STRING,
        "configId": _STRING_OR_NULL,
        "inputTokens": _INT_OR_NULL,
        "outputTokens": _INT_OR_NULL,
        "promptTokens": _INT_OR_NULL,
        "completionTokens": _INT_OR_NULL,
        "totalTokens": _INT_OR_NULL,
        "cost": {**NUMBER_OR_NULL, "description": "USD, OpenRouter's `usage.cost`"},
        "imageCount": _INT_OR_NULL,
        "imageResolution": {"type": "null"},
        "createdAt": {"type": "string", "format": "date-time"},
        "modelId": _STRING_OR_NULL,
        "model": _STRING_OR_NULL,
        "provider": _STRING_OR_NULL,
        "generationId": _STRING_OR_NULL,
        "userId": STRING,
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
        **ADMIN_AUTH_ERRORS,
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
    200: {
        **json_answer(
            {"type": "array", "items": _USAGE_RECORD},
            "The calls made through the configuration in the range, newest first (at most "
            "10,000, or the page asked for).",
        ),
        "headers": {
            "X-Total-Count": {
                "description": "How many calls there are in the range, on every page.",
                "schema": {"type": "integer", "minimum": 0},
            }
        },
    },
    **_USAGE_ERRORS,
}

# AI configurations (app/legacy/configurations.py).

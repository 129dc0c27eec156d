"""What `/openapi.json` shows of the admin quota routes (app/legacy/quotas.py)."""

from app.legacy.openapi import ADMIN_AUTH_ERRORS, STRING, LegacyError
from app.openapi import Responses, error_responses, json_answer, json_object

_SET = {
    "oneOf": [{"type": "number", "minimum": 0}, {"const": "unlimited"}, {"type": "null"}],
    "description": "a limit; `unlimited`; or null for the gateway's default",
}
_LIMIT = {"type": ["number", "null"], "description": "null: no limit"}
NAMES = ["rpm", "tokensPerDay", "usdPerDay", "usdPerMonth", "concurrentStreams"]
_QUOTA = json_object(
    ["userId", *NAMES, "effective"],
    {
        "userId": STRING,
        **dict.fromkeys(NAMES, _SET),
        "updatedAt": {"type": ["string", "null"], "format": "date-time"},
        "effective": json_object(NAMES, dict.fromkeys(NAMES, _LIMIT)),
    },
)
_ERRORS = {
    **ADMIN_AUTH_ERRORS,
    503: "LEDGER_DISABLED or LEDGER_UNAVAILABLE: per-user limits live in the ledger's database",
}
QUOTA: Responses = {
    200: json_answer(_QUOTA, "The user's limits as set (null: the default) and as they apply."),
    **error_responses(
        LegacyError, {400: "INVALID_INPUT: the body or the user id failed validation", **_ERRORS}
    ),
}
QUOTA_GONE: Responses = {
    200: json_answer(json_object(["message"], {"message": STRING}), "Removed."),
    **error_responses(
        LegacyError,
        {
            400: "INVALID_INPUT: a user id over 255 characters",
            404: "NOT_FOUND: no limits set for this user",
            **_ERRORS,
        },
    ),
}
QUOTA_LIST: Responses = {
    200: json_answer(
        json_object(
            ["quotas", "total", "defaults"],
            {
                "quotas": {"type": "array", "items": _QUOTA},
                "total": {"type": "integer"},
                "defaults": json_object(NAMES, dict.fromkeys(NAMES, _LIMIT)),
            },
        ),
        "The users with limits of their own, by user id, one page; and the defaults.",
    ),
    **error_responses(LegacyError, {400: "INVALID_INPUT: a bad query parameter", **_ERRORS}),
}

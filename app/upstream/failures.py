"""What went wrong upstream, neutral about the surface that will show it.

Each surface maps an `UpstreamFailure` to its own envelope once (`app/legacy/errors.py`,
`app/v1/errors.py`). A failure never holds the OpenRouter key: whatever the upstream echoed is
redacted where the failure is made (`app/redact.py`), before anything keeps or cuts it.
"""

from collections.abc import Mapping
from typing import Any, Literal

import httpx
import orjson

from app.json_shape import Json
from app.redact import redact_secret

Kind = Literal["status", "inband", "timeout", "connect", "invalid", "broken", "busy"]
# Upstream error text kept for the caller's message: enough to act on, never a whole page.
MAX_MESSAGE_CHARS = 500
MAX_TEXT_CHARS = 2000


class UpstreamFailure(Exception):
    """`kind`: "status" (an error status), "inband" (an error inside a 200 body or stream),
    "timeout", "connect" (no answer: nothing was billed), "invalid" (an answer we cannot read),
    "broken" (the answer broke off after its status line), "busy" (no free upstream connection
    within UPSTREAM_POOL_TIMEOUT_S)."""

    def __init__(
        self,
        kind: Kind,
        *,
        status: int | None = None,
        payload: object = None,
        text: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"upstream {kind} {status or ''}".strip())
        self.kind = kind
        self.status = status
        self.payload = payload
        self.text = text
        self.headers = dict(headers or {})


def parse(content: bytes) -> object:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


def redacted(payload: object, secret: str) -> object:
    """`payload` with the key scrubbed from every string in it (a copy only when it holds one)."""
    if not secret or payload is None:
        return payload
    raw = orjson.dumps(payload).decode()
    cleaned = redact_secret(raw, secret)
    return payload if cleaned == raw else orjson.loads(cleaned)


def inband_failure(payload: object, secret: str) -> UpstreamFailure:
    return UpstreamFailure("inband", payload=redacted(payload, secret))


def failure_of(resp: httpx.Response, payload: object, secret: str) -> UpstreamFailure:
    """The failure an upstream answer stands for (its status, or an error inside a 200)."""
    if resp.status_code >= 300:
        return UpstreamFailure(
            "status",
            status=resp.status_code,
            payload=redacted(payload, secret),
            # Redacted before the cut: a cut inside the key would leave a part no one can match.
            text=redact_secret(resp.text, secret)[:MAX_TEXT_CHARS],
            headers=resp.headers,
        )
    if isinstance(payload, dict) and payload.get("error"):
        # OpenRouter commits 200 before the provider answers; a late failure is in the body.
        return UpstreamFailure("inband", payload=redacted(payload, secret), headers=resp.headers)
    return UpstreamFailure("invalid", status=resp.status_code)


def check_choices(answer: Json, secret: str) -> None:
    """A chat answer with no choice, or whose choice failed, is a failure despite its 200."""
    choices = answer.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise UpstreamFailure("invalid", status=200)
    first = choices[0]
    if first.get("finish_reason") == "error" or first.get("error"):
        error = first.get("error") or {"message": "Provider returned error", "code": 502}
        raise inband_failure({"error": error}, secret)


def error_object(payload: object) -> Any:
    """OpenRouter's `error` member of a body, if there is one."""
    return payload.get("error") if isinstance(payload, dict) else None


def inband_status(payload: object) -> int:
    """The status an error inside a 200 stands for: its integer `code`, else 502."""
    error = error_object(payload)
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    return 502

"""How `/api/v1/*` shows an upstream failure: OpenAI's envelope, with the right status.

Unlike the legacy surface, an upstream 401/403 becomes a 502: it is the gateway's key that was
refused, and showing it as the caller's own auth failure would send the caller's SDK chasing
the wrong credential. Everything else keeps the upstream status and message (with the key
scrubbed), so callers can fix a bad request; `Retry-After` is passed on.
"""

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


def to_openai_error(failure: UpstreamFailure, secret: str = "") -> UpstreamError:
    if failure.kind == "connect":
        return UpstreamError("Could not reach the AI provider.", code="upstream_unavailable")
    if failure.kind == "broken":
        return UpstreamError(
            "The AI provider's answer broke off; it was not retried.", code="upstream_broken"
        )
    if failure.kind == "busy":
        return UpstreamError(
            "The AI gateway is busy right now; please retry shortly.",
            status_code=503,
            code="gateway_busy",
            headers={"Retry-After": failure.headers.get("retry-after", "1")},
        )
    if failure.kind == "timeout":
        return UpstreamError(
            "The AI provider did not answer in time.", status_code=504, code="upstream_timeout"
        )
    if failure.kind == "invalid":
        return UpstreamError("The AI provider sent an invalid response.", code="upstream_invalid")
    status = inband_status(failure.payload) if failure.kind == "inband" else failure.status or 502
    error = error_object(failure.payload)
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or not message:
        message = failure.text.strip()
    # Redact, then cut: a cut taken first can end inside the key and leave part of it unmatched.
    message = redact_secret(message, secret)[:MAX_MESSAGE_CHARS]
    message = message or f"The AI provider answered {status}."
    raw_code = error.get("code") if isinstance(error, dict) else None
    code = str(raw_code) if raw_code is not None else f"upstream_{status}"
    headers = {"Retry-After": v} if (v := failure.headers.get("retry-after")) else None
    if status in (401, 403):
        return UpstreamError(
            f"The AI provider refused the gateway's request: {message}",
            status_code=502,
            code="upstream_auth",
        )
    return UpstreamError(
        message, status_code=status if 400 <= status <= 599 else 502, code=code, headers=headers
    )


POLICY_CODES = {
    "model": "model_not_allowed",
    "limits": "request_too_large",
    "asset": "asset_refused",
    "invalid": "invalid_request",
}


def policy_refusal(err: PolicyError) -> GatewayError:
    return InvalidInputError(
        err.message, code=POLICY_CODES[err.rule], next_actions=err.next_actions
    )


# `/api/v1/*`: policy refusals and upstream failures in OpenAI's envelope.
V1 = Surface(policy_refusal, to_openai_error)

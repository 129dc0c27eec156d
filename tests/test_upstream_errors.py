"""Upstream failure → legacy status and body, as the legacy API mapped them, as units."""

import hashlib

import pytest

from app.errors import legacy_body
from app.legacy.errors import to_legacy_error
from app.upstream.failures import MAX_MESSAGE_CHARS, UpstreamFailure
from app.v1.errors import to_openai_error

KEY = "sk-or-v1-secret"


def body(failure: UpstreamFailure) -> bytes:
    return legacy_body(to_legacy_error(failure, KEY))


def test_402() -> None:
    got = body(UpstreamFailure("status", status=402, payload={"error": {"code": 402}}))
    assert got == (
        b'{"error":"BILLING_INSUFFICIENT_BALANCE","message":"AI credit limit reached.",'
        b'"statusCode":402,"nextActions":"Add credits to your OpenRouter account."}'
    )


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_become_401_invalid_key(status: int) -> None:
    assert body(UpstreamFailure("status", status=status)) == (
        b'{"error":"AI_INVALID_API_KEY","message":"AI provider authentication failed. Check your '
        b'API key configuration.","statusCode":401,"nextActions":"Set a valid OPENROUTER_API_KEY '
        b'or update Model Gateway settings."}'
    )


def test_429_keeps_retry_after() -> None:
    err = to_legacy_error(UpstreamFailure("status", status=429, headers={"retry-after": "7"}), KEY)
    assert legacy_body(err) == (
        b'{"error":"RATE_LIMITED","message":"AI provider rate limit exceeded. Please wait before '
        b'retrying.","statusCode":429,"nextActions":"Wait a moment and retry, or check your API '
        b'key rate limits."}'
    )
    assert err.headers == {"Retry-After": "7"}


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (
            UpstreamFailure(
                "status",
                status=400,
                payload={"error": {"message": "bad/model is not a valid model ID"}},
            ),
            b'{"error":"AI_UPSTREAM_UNAVAILABLE","message":"400 bad/model is not a valid model ID",'
            b'"statusCode":400}',
        ),
        (
            UpstreamFailure("status", status=503, text=""),
            b'{"error":"AI_UPSTREAM_UNAVAILABLE","message":"503 status code (no body)",'
            b'"statusCode":503}',
        ),
        (
            UpstreamFailure("status", status=524, text="<html>edge timeout</html>"),
            b'{"error":"AI_UPSTREAM_UNAVAILABLE","message":"524 <html>edge timeout</html>",'
            b'"statusCode":524}',
        ),
        (
            UpstreamFailure(
                "inband", payload={"error": {"message": "Provider returned error", "code": 400}}
            ),
            b'{"error":"AI_UPSTREAM_UNAVAILABLE","message":"400 Provider returned error",'
            b'"statusCode":400}',
        ),
        (
            UpstreamFailure(
                "inband", payload={"error": {"message": "boom", "code": "server_error"}}
            ),
            b'{"error":"AI_UPSTREAM_UNAVAILABLE","message":"502 boom","statusCode":502}',
        ),
        (
            UpstreamFailure("connect"),
            b'{"error":"AI_UPSTREAM_UNAVAILABLE","message":"Connection error.","statusCode":502}',
        ),
        (
            UpstreamFailure("timeout"),
            b'{"error":"AI_UPSTREAM_UNAVAILABLE","message":"Request timed out.","statusCode":504}',
        ),
    ],
)
def test_other_failures(failure: UpstreamFailure, expected: bytes) -> None:
    assert body(failure) == expected


def test_key_is_scrubbed_from_echoed_messages() -> None:
    failure = UpstreamFailure(
        "status", status=400, payload={"error": {"message": f"key {KEY} bad"}}
    )
    assert KEY.encode() not in body(failure)


# A key of OpenRouter's real shape and length, with no repeats, so any 8 characters of it are
# recognisable in the output.
LONG_KEY = "sk-or-v1-" + hashlib.sha256(b"upstream key").hexdigest()


def leaked(text: str, key: str = LONG_KEY) -> list[str]:
    return [key[i : i + 8] for i in range(len(key) - 7) if key[i : i + 8] in text]


def straddling(filler: int) -> list[UpstreamFailure]:
    """The key at `filler` characters into the message, in each form a message takes."""
    text = "x" * filler + LONG_KEY + " was refused"
    return [
        UpstreamFailure("status", status=400, payload={"error": {"message": text}}),
        UpstreamFailure("status", status=400, payload={"error": {"detail": text}}),
        UpstreamFailure("status", status=400, payload={"detail": text}),
        UpstreamFailure("status", status=500, text=text),
        UpstreamFailure("inband", payload={"error": {"message": text, "code": 400}}),
    ]


# From the key wholly inside the first MAX_MESSAGE_CHARS to wholly beyond them, whatever
# framing (`{"error":{"detail":"`) comes before it.
FILLERS = range(MAX_MESSAGE_CHARS - len(LONG_KEY) - 30, MAX_MESSAGE_CHARS + 1)


@pytest.mark.parametrize("filler", FILLERS)
def test_no_part_of_the_key_survives_the_cut_on_the_legacy_surface(filler: int) -> None:
    for failure in straddling(filler):
        message = to_legacy_error(failure, LONG_KEY).message
        assert leaked(message) == [], failure
        assert len(message) <= len("400 ") + MAX_MESSAGE_CHARS


@pytest.mark.parametrize("filler", FILLERS)
def test_no_part_of_the_key_survives_the_cut_on_the_openai_surface(filler: int) -> None:
    for failure in straddling(filler):
        message = to_openai_error(failure, LONG_KEY).message
        assert leaked(message) == [], failure
        assert len(message) <= MAX_MESSAGE_CHARS


def test_a_key_well_inside_the_message_is_redacted_on_both_surfaces() -> None:
    failure = straddling(10)[0]
    assert to_legacy_error(failure, LONG_KEY).message.startswith(f"400 {'x' * 10}[redacted] was")
    assert to_openai_error(failure, LONG_KEY).message.startswith(f"{'x' * 10}[redacted] was")

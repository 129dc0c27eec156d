"""An UpstreamFailure never holds the OpenRouter key: whatever the upstream echoed is redacted
where the failure is made, before any surface maps it (app/upstream/failures.py)."""

import httpx
import orjson
import pytest

from app.upstream.failures import UpstreamFailure, check_choices, failure_of, inband_failure
from tests.factories import UPSTREAM_KEY


def holds_key(value: object) -> bool:
    return UPSTREAM_KEY in orjson.dumps(value, default=str).decode()


@pytest.mark.parametrize("status", [200, 400, 500])
def test_a_failure_made_of_an_answer_holds_no_key(status: int) -> None:
    payload = {"error": {"message": f"bad key {UPSTREAM_KEY}", "metadata": {"raw": UPSTREAM_KEY}}}
    resp = httpx.Response(status, content=orjson.dumps(payload))
    failure = failure_of(resp, payload, UPSTREAM_KEY)
    assert not holds_key(failure.payload)
    assert UPSTREAM_KEY not in failure.text
    assert "[redacted]" in orjson.dumps(failure.payload).decode()


def test_an_inband_failure_holds_no_key() -> None:
    failure = inband_failure({"error": {"message": UPSTREAM_KEY, "code": 502}}, UPSTREAM_KEY)
    assert not holds_key(failure.payload)


def test_a_failed_choice_holds_no_key() -> None:
    answer = {"choices": [{"finish_reason": "error", "error": {"message": UPSTREAM_KEY}}]}
    with pytest.raises(UpstreamFailure) as caught:
        check_choices(answer, UPSTREAM_KEY)
    assert caught.value.kind == "inband"
    assert not holds_key(caught.value.payload)


def test_a_payload_without_the_key_is_kept_as_it_is() -> None:
    payload = {"error": {"message": "rate limited", "code": 429}}
    failure = inband_failure(payload, UPSTREAM_KEY)
    assert failure.payload is payload

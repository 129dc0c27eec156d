"""`redact_secret`: every form of the key an upstream may echo is scrubbed, and nothing else."""

import json
from urllib.parse import quote, quote_plus

import pytest

from app.redact import REDACTED, redact_secret

KEY = "sk-or-v1-0a1b2c3d4e5f"
ODD = 'k/y "é+%~\\z'  # a secret whose encoded forms all differ from the plain one


def test_plain_key_is_replaced_everywhere() -> None:
    assert redact_secret(f"{KEY} and {KEY}.", KEY) == f"{REDACTED} and {REDACTED}."


@pytest.mark.parametrize(
    "form",
    [
        ODD,
        quote(ODD, safe=""),
        quote(ODD, safe="").lower(),
        quote_plus(ODD, safe=""),
        json.dumps(ODD)[1:-1],
        json.dumps(ODD, ensure_ascii=False)[1:-1],
    ],
    ids=["plain", "percent", "percent-lower", "form", "json", "json-utf8"],
)
def test_encoded_forms_are_replaced(form: str) -> None:
    assert redact_secret(f"url?key={form}&x=1", ODD) == f"url?key={REDACTED}&x=1"


def test_no_secret_or_no_match_leaves_text_alone() -> None:
    assert redact_secret("a sk-or-v1 message", "") == "a sk-or-v1 message"
    assert redact_secret("a sk-or-v1 message", KEY) == "a sk-or-v1 message"
    assert redact_secret("", KEY) == ""

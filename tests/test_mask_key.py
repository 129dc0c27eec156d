"""`mask_key`: at most the public `sk-or-v1` prefix and the last 4 characters, nothing of a
short key."""

import pytest

from app.legacy.admin import MASK, mask_key

HEX64 = "0123456789abcdef" * 4


def test_openrouter_key_shows_its_public_prefix_and_last_four() -> None:
    assert mask_key(f"sk-or-v1-{HEX64}") == f"sk-or-v1{MASK}cdef"


def test_other_key_shows_no_prefix() -> None:
    key = "abcdefghijklmnopqrst"  # 20 characters
    assert mask_key(key) == f"{MASK}qrst"  # 4 of its 20 characters, the last ones


@pytest.mark.parametrize("length", [16, 20, 33, 73, 200])
def test_at_most_four_secret_characters_whatever_the_length(length: int) -> None:
    key = "k" * (length - 4) + "WXYZ"
    assert mask_key(key) == f"{MASK}WXYZ"
    or_key = "sk-or-v1-" + "s" * (length - 4) + "WXYZ"
    assert mask_key(or_key) == f"sk-or-v1{MASK}WXYZ"


@pytest.mark.parametrize(
    "key",
    [
        "",
        "a",
        "short-key",
        "abcdefghijk",
        "abcdefghijklmno",
        "sk-or-v1-",
        "sk-or-v1-abcdefghijklmno",
    ],
)
def test_a_short_key_reveals_nothing(key: str) -> None:
    assert mask_key(key) == MASK

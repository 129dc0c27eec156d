"""The quotas' per-call work, compiled (setup.py): the hook (app/quotas/hook.py) makes one call
here to admit a call with the defaults on the in-process store, and one to settle it there when
it ends. Every Python step on this path was measurable (bench/README.md, the
quota stage); here each is machine code.

Also the X-RateLimit header values of an admitted call, for every store.
"""

import math
import time
from collections.abc import Iterator
from typing import Final

from app.quotas.limits import Limits, Need, Shown
from app.quotas.memory import MemoryStore
from app.quotas.need import Json, Needs

Headers = list[tuple[bytes, bytes]]


def amount(kind: str, value: float) -> str:
    """A limit's amount as the headers and the refusals give it: USD to 6 digits, others whole."""
    return f"{value:.6g}" if kind.startswith("usd") else str(int(value))


# A limit's header, by kind and limit: the same on every call.
_LIMIT_HEADERS: Final[dict[tuple[str, float], tuple[bytes, bytes]]] = {}


def limit_headers(standing: Shown) -> Headers:
    kind, limit, remaining, reset_s = standing
    shown = _LIMIT_HEADERS.get((kind, limit))
    if shown is None:
        shown = (b"x-ratelimit-limit", amount(kind, limit).encode())
        if len(_LIMIT_HEADERS) < 10_000:  # admins' overrides: bounded
            _LIMIT_HEADERS[kind, limit] = shown
    if remaining <= 0:
        left = b"0"
    elif kind[0] == "u":  # USD
        left = b"%.6g" % remaining
    else:
        left = b"%d" % int(remaining)
    return [
        shown,
        (b"x-ratelimit-remaining", left),
        (b"x-ratelimit-reset", b"%d" % math.ceil(reset_s)),
    ]


def charged(
    need: Need, prompt: int | None, completion: int | None, usd: float | None, may_have_spent: bool
) -> tuple[int, float]:
    """What a call is charged when it ends: the tokens and cost the upstream reported; where it
    reported none, the reservation's worst case if the call may have spent upstream, else 0."""
    if prompt is not None or completion is not None:
        tokens = (prompt or 0) + (completion or 0)
    elif may_have_spent:
        tokens = need[0]
    else:
        tokens = 0
    if usd is None:
        usd = need[1] if may_have_spent else 0.0
    return tokens, usd


def settle(
    store: MemoryStore,
    key: str,
    held: tuple[str | int, Need],
    prompt: int | None,
    completion: int | None,
    usd: float | None,
    may_have_spent: bool,
) -> None:
    """The call's charge replaces its reservation on the in-process store."""
    reservation, need = held
    tokens, cost = charged(need, prompt, completion, usd, may_have_spent)
    store.settle_now(key, reservation, tokens, cost, time.time())


class FastPath:
    """Admission with the same limits for every caller (the defaults, no overrides) on the
    in-process store: the call's need, its reservation and its headers in one call."""

    def __init__(
        self, store: MemoryStore, needs: Needs, limits: Limits, ids: Iterator[int], hold_s: float
    ) -> None:
        self._store = store
        self._needs = needs
        self._limits = limits
        self._tokens, self._usd = limits.counted()
        self._ids = ids  # the hook's reservation ids, shared with its other admissions
        self._hold_s = hold_s

    def admit(
        self, key: str, body: Json, chars: int | None
    ) -> tuple[tuple[int, Need], Headers | None] | None:
        """The call's reservation (id, need) and headers, None when the prices must be fetched
        first (then the hook's general admission), or `Refused` raised."""
        now = time.time()
        need = self._needs.need_now(body, chars, self._tokens, self._usd, now)
        if need is None:
            return None
        reservation = next(self._ids)
        shown = self._store.reserve(key, self._limits, need, reservation, now, self._hold_s)
        return (reservation, need), None if shown is None else limit_headers(shown)

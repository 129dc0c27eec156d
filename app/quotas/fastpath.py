"""The quotas' per-call work, compiled (setup.py): the pipeline's two quota hooks themselves
where the store is this process's (`Hooks`), so a call runs no Python frame of the quotas at
all: admission with the defaults (the call's need, its reservation and its headers), and the
settlement when it ends. Every Python step on this path was measurable (bench/README.md, the
quota stage); here each is machine code.

Also the X-RateLimit header values and a call's charge, for every store.
"""

import math
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final, Protocol

from app.quotas.limits import Limits, Need, Shown, Standing
from app.quotas.memory import MemoryStore, Refused
from app.quotas.need import Json, Needs

Headers = list[tuple[bytes, bytes]]
# Outcomes whose calls may have spent upstream even when no usage came back.
MAY_HAVE_SPENT: Final = frozenset({"ok", "cancelled", "stream_error", "timed_out"})


# What the hooks read of app/pipeline.py's `Call` and what it holds: a compiled module may not
# import those (docs/architecture.md), so they are described here, and mypy checks `Call`
# against them where the hooks are installed (app/quotas/hook.py).
class _Principal(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...


class _Usage(Protocol):
    @property
    def prompt_tokens(self) -> int | None: ...
    @property
    def completion_tokens(self) -> int | None: ...
    @property
    def cost_usd(self) -> float | None: ...


class Outcome(Protocol):
    @property
    def kind(self) -> str: ...


class QuotaCall(Protocol):
    @property
    def principal(self) -> _Principal: ...
    @property
    def prompt_chars(self) -> int | None: ...
    @property
    def usage(self) -> _Usage: ...

    reservation: tuple[Any, ...] | None
    limit_headers: Headers | None


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


def charge(call: QuotaCall, outcome: Outcome) -> tuple[str | int, int, float] | None:
    """The call's reservation and what it is charged (`charged`), None when it holds none: the
    record hook's reading of a call, for every store."""
    held = call.reservation
    if held is None:
        return None
    usage = call.usage
    need: Need = held[1]
    spent = outcome.kind in MAY_HAVE_SPENT
    tokens, cost = charged(
        need, usage.prompt_tokens, usage.completion_tokens, usage.cost_usd, spent
    )
    reservation: str | int = held[0]
    return reservation, tokens, cost


class Hooks:
    """The quota hooks on the in-process store. Admission is decided here for a call under the
    defaults (no admin's overrides, prices at hand); otherwise `slow` (the general admission,
    which may wait) decides. A refusal is raised as `refused` makes it (the surface's 429)."""

    def __init__(
        self,
        store: MemoryStore,
        needs: Needs,
        limits: Limits,
        ids: Iterator[int],
        hold_s: float,
        slow: Callable[[Any, Json], Awaitable[None]],
        refused: Callable[[Any, Standing], Exception],
    ) -> None:
        self._store = store
        self._needs = needs
        self._limits = limits
        self._tokens, self._usd = limits.counted()
        self._ids = ids  # the reservation ids, shared with the general admission
        self._hold_s = hold_s
        self._slow = slow
        self._refused = refused

    def admit(self, call: QuotaCall, body: Json) -> Awaitable[None] | None:
        """The admission hook (app/pipeline.py): None when admitted (or not limited: the
        admin), `slow`'s awaitable when the prices must be fetched first."""
        principal = call.principal
        if principal.kind == "admin":
            return None
        try:
            admitted = self.reserve(principal.id, body, call.prompt_chars)
        except Refused as refused:
            raise self._refused(call, refused.standing) from None
        if admitted is None:
            return self._slow(call, body)
        call.reservation, call.limit_headers = admitted
        return None

    def reserve(
        self, key: str, body: Json, chars: int | None
    ) -> tuple[tuple[int, Need], Headers | None] | None:
        """The call's reservation (id, need) and headers, None when the prices must be fetched
        first, or `Refused` raised."""
        now = time.time()
        need = self._needs.need_now(body, chars, self._tokens, self._usd, now)
        if need is None:
            return None
        reservation = next(self._ids)
        shown = self._store.reserve(key, self._limits, need, reservation, now, self._hold_s)
        return (reservation, need), None if shown is None else limit_headers(shown)

    def record(self, call: QuotaCall, outcome: Outcome) -> None:
        """The record hook: the call's charge replaces its reservation."""
        found = charge(call, outcome)
        if found is not None:
            reservation, tokens, cost = found
            self._store.settle_now(call.principal.id, reservation, tokens, cost, time.time())

"""The quotas in the pipeline: admission reserves a call's worst case or refuses it with a
429 before anything goes upstream; the record stage settles the reservation with what the call
really used, however it ended.

Who is limited: every signed-in user and the anonymous caller, each by principal id, with the
QUOTA_* defaults or an admin's override for that user (app/quotas/overrides.py); the admin is
not, unless an override names it. What a call is charged when it ends:
- the tokens and `usage.cost` the upstream reported, when it did;
- otherwise, for a call that may have run upstream (answered, cancelled, cut, timed out), its
  whole reservation: when the spend is unknown, the operator's budget assumes the worst;
- otherwise (refused, an upstream error with no usage) nothing.

The store failing (Redis away) follows QUOTA_FAIL_MODE: `closed` refuses with 503, `open`
serves without limits; either way one warning per outage, and one when it is back.
"""

import asyncio
import itertools
import logging
import math
import secrets
import time
from datetime import UTC, datetime
from typing import Protocol

from redis.exceptions import RedisError

from app.auth import Principal
from app.errors import GatewayError, is_openai_path
from app.json_shape import Json
from app.pipeline import AdmissionHook, Call, Outcome, RecordHook
from app.quotas.estimate import Estimator
from app.quotas.fastpath import Hooks, amount, charge, limit_headers
from app.quotas.limits import Decision, LimitKind, Limits, Need, Standing
from app.quotas.memory import MemoryStore
from app.quotas.overrides import OverrideStore

log = logging.getLogger("app.quotas")

STORE_ERRORS = (RedisError, OSError, TimeoutError)
STORE_TIMEOUT_S = 2.0


class Store(Protocol):
    async def admit(
        self, key: str, limits: Limits, need: Need, reservation: str, now: float, expires_s: float
    ) -> Decision: ...
    async def settle(
        self, key: str, reservation: str, tokens: int, usd: float, now: float
    ) -> None: ...
    async def standing(self, key: str, limits: Limits, now: float) -> list[Standing]: ...


# What a call holds until it is recorded (`Call.reservation`): its reservation's id (an int
# from the in-process store's fast path, a string unique across processes otherwise) and its
# need, under the caller's principal id. A plain tuple: a NamedTuple's constructor is a Python
# call, and on this path each one was measurable (the quotas stage, bench/README.md).
Held = tuple[str | int, Need]


_WHAT: dict[LimitKind, tuple[str, str, str]] = {
    # legacy code, /api/v1 code, what the limit is
    "concurrent": ("AI_CONCURRENCY_LIMIT", "concurrency_limit_exceeded", "calls at once"),
    "rpm": ("AI_RATE_LIMIT", "rate_limit_exceeded", "requests per minute"),
    "tokens_per_day": ("AI_TOKEN_QUOTA", "token_quota_exceeded", "tokens per day (UTC)"),
    "usd_per_day": ("AI_SPEND_LIMIT", "spend_limit_exceeded", "USD per day (UTC)"),
    "usd_per_month": ("AI_SPEND_LIMIT", "spend_limit_exceeded", "USD per month (UTC)"),
}


def refusal(standing: Standing, path: str, now: float) -> GatewayError:
    legacy, openai, unit = _WHAT[standing.kind]
    wait = max(1, math.ceil(standing.reset_s))
    limit = amount(standing.kind, standing.limit)
    if standing.kind == "concurrent":
        message = f"Too many AI calls at once: this account may have {limit} in flight."
        then = "Wait for one to finish, then retry."
    else:
        at = datetime.fromtimestamp(now + wait, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        message = f"Limit reached: {limit} {unit}. It allows the next call at {at} (in {wait} s)."
        then = f"Retry after {wait} s, or ask the operator for a higher limit."
    headers = {k.decode(): v.decode() for k, v in limit_headers(standing)}
    return GatewayError(
        message,
        status_code=429,
        code=openai if is_openai_path(path) else legacy,
        next_actions=then,
        headers={"Retry-After": str(wait), **headers},
    )


def _refused(call: Call, standing: Standing, now: float | None = None) -> GatewayError:
    if call.access is not None:
        call.access.limit = standing.kind
    return refusal(standing, call.route.path, time.time() if now is None else now)


def store_away(what: str, code: str) -> GatewayError:
    """The 503 while the limit store cannot be reached (QUOTA_FAIL_MODE=closed)."""
    return GatewayError(
        f"The limit store is unreachable, so {what} right now.",
        status_code=503,
        code=code,
        next_actions="Retry shortly; the operator can check REDIS_URL.",
        headers={"Retry-After": "5"},
    )


class Quotas:
    def __init__(
        self,
        store: Store,
        defaults: Limits,
        estimator: Estimator,
        *,
        fail_open: bool,
        hold_s: float,
        overrides: OverrideStore | None = None,
    ) -> None:
        self.store = store
        # The in-process store is called without a timeout or a task: it never waits.
        self._local = store if isinstance(store, MemoryStore) else None
        # Reservation ids: unique across processes (sharing a Redis) without a uuid per call.
        self._prefix = f"{secrets.token_hex(6)}-"
        self._ids = itertools.count()
        self.defaults = defaults
        self.overrides = overrides
        self._estimator = estimator
        self._fail_open = fail_open
        self._hold_s = hold_s
        self._failing = False
        self._settling: set[asyncio.Task[None]] = set()
        # The hooks the pipeline calls (app/quotas/service.py). On the in-process store they
        # are compiled (app/quotas/fastpath.py), as they run on every call: admission decided
        # there with the defaults for everyone (no overrides), settlement always.
        self.admit: AdmissionHook = self._admit
        self.record: RecordHook = self._record_remote
        if self._local is not None:
            hooks = Hooks(
                self._local, estimator.needs, defaults, self._ids, hold_s, self._admit, _refused
            )
            if overrides is None and defaults.any:
                self.admit = hooks.admit
            self.record = hooks.record

    async def limits_for(self, principal: Principal) -> Limits | None:
        """The caller's limits: an admin's override for this user over the defaults (the admin
        itself has none but its own override); None when nothing limits the caller."""
        override = None if self.overrides is None else await self.overrides.get(principal.id)
        base = Limits() if principal.kind == "admin" else self.defaults
        limits = base if override is None else override.over(base)
        return limits if limits.any else None

    async def _admit(self, call: Call, body: Json) -> None:
        """Admission that may wait: for overrides, for the prices, for a remote store."""
        principal = call.principal
        limits = await self.limits_for(principal)
        if limits is None:
            return
        tokens, usd = limits.counted()
        need = await self._estimator.need(body, call.prompt_chars, tokens, usd)
        now = time.time()
        reservation: str | int
        if self._local is not None:
            reservation = next(self._ids)
            decision = await self._local.admit(
                principal.id, limits, need, reservation, now, self._hold_s
            )
        else:
            reservation = f"{self._prefix}{next(self._ids)}"
            found = await self._admit_remote(call, limits, need, reservation, now)
            if found is None:  # the store is away and QUOTA_FAIL_MODE=open
                return
            decision = found
        self._decided(call, decision, (reservation, need), now)

    @staticmethod
    def _decided(call: Call, decision: Decision, held: Held, now: float) -> None:
        if not decision.admitted:
            assert decision.standing is not None
            raise _refused(call, decision.standing, now)
        call.reservation = held
        if decision.standing is not None:
            call.limit_headers = limit_headers(decision.standing)

    async def _admit_remote(
        self, call: Call, limits: Limits, need: Need, reservation: str, now: float
    ) -> Decision | None:
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                decision = await self.store.admit(
                    call.principal.id, limits, need, reservation, now, self._hold_s
                )
        except STORE_ERRORS as err:
            self._store_failed(err)
            if self._fail_open:
                return None
            openai = is_openai_path(call.route.path)
            raise store_away(
                "no AI call can be admitted",
                "limits_unavailable" if openai else "AI_LIMITS_UNAVAILABLE",
            ) from None
        self._store_back()
        return decision

    async def standing(self, principal: Principal) -> list[Standing]:
        """The caller's limits as they stand (GET /api/v1/limits); none for the admin."""
        limits = await self.limits_for(principal)
        if limits is None:
            return []
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                found = await self.store.standing(principal.id, limits, time.time())
        except STORE_ERRORS as err:
            self._store_failed(err)
            raise store_away("the limits cannot be read", "limits_unavailable") from None
        self._store_back()
        return found

    def _record_remote(self, call: Call, outcome: Outcome) -> None:
        """The record hook on Redis: settle the call's reservation with what it used."""
        found = charge(call, outcome)
        if found is None:
            return
        reservation, tokens, usd = found
        key = call.principal.id
        remote = str(reservation)  # always a string: ids are ints in this process's store only
        task = asyncio.get_running_loop().create_task(self._settle(key, remote, tokens, usd))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _settle(self, key: str, reservation: str, tokens: int, usd: float) -> None:
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                await self.store.settle(key, reservation, tokens, usd, time.time())
        except STORE_ERRORS as err:  # the reservation expires by itself
            self._store_failed(err)
        else:
            self._store_back()

    async def drain(self) -> None:
        """Wait for the settlements under way (shutdown)."""
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)

    def _store_failed(self, err: BaseException) -> None:
        if not self._failing:
            self._failing = True
            mode = "serving without limits" if self._fail_open else "refusing AI calls with 503"
            log.warning("quotas: limit store unreachable (%s); %s", type(err).__name__, mode)

    def _store_back(self) -> None:
        if self._failing:
            self._failing = False
            log.warning("quotas: limit store reachable again")

"""The in-process store: the limits of one process (REDIS_URL unset).

The same algorithm as the Redis store's script (app/quotas/redis_store.py), in Python; the
tests run every case on both. Nothing here awaits, so one admission is atomic on the loop.
"""

import math
from dataclasses import dataclass, field

from app.quotas.limits import (
    WINDOW_S,
    Day,
    Decision,
    LimitKind,
    Limits,
    Need,
    Standing,
    periods,
    today,
)

EPSILON = 1e-9


@dataclass(slots=True)
class _Account:
    tat: float = 0.0  # GCRA: when the next request would be "on time"
    held: dict[str, tuple[int, float, float]] = field(default_factory=dict)  # tokens, usd, expiry
    held_tokens: int = 0
    held_usd: float = 0.0
    next_expiry: float = float("inf")  # the soonest a reservation expires
    day: str = ""
    day_tokens: int = 0
    day_usd: float = 0.0
    month: str = ""
    month_usd: float = 0.0

    def release(self, reservation: str) -> None:
        tokens, usd, _ = self.held.pop(reservation)
        self.held_tokens -= tokens
        self.held_usd = max(0.0, self.held_usd - usd)

    def roll(self, today: Day) -> None:
        if self.day != today.day:
            self.day, self.day_tokens, self.day_usd = today.day, 0, 0.0
            if self.month != today.month:
                self.month, self.month_usd = today.month, 0.0


class MemoryStore:
    def __init__(self) -> None:
        self._accounts: dict[str, _Account] = {}

    async def admit(
        self, key: str, limits: Limits, need: Need, reservation: str, now: float, expires_s: float
    ) -> Decision:
        return self.admit_now(key, limits, need, reservation, now, expires_s)

    def admit_now(
        self, key: str, limits: Limits, need: Need, reservation: str, now: float, expires_s: float
    ) -> Decision:
        """`admit` without a coroutine: the quota hook's hot path."""
        account = self._accounts.get(key)
        if account is None or account.next_expiry <= now:
            account = self._account(key, now)
        day = today(now)
        if account.day != day.day:
            account.roll(day)
        # The tightest limit so far, as (share left, kind, limit, left, reset): built into a
        # Standing once, at the end (this runs on every call).
        best: tuple[float, LimitKind, float, float, float] | None = None
        concurrent = limits.concurrent
        if concurrent is not None:
            left = concurrent - len(account.held) - 1
            if left < 0:
                return Decision(False, Standing("concurrent", concurrent, 0, 1.0))
            best = (left / concurrent, "concurrent", concurrent, left, 0.0)
        new_tat = account.tat
        rpm = limits.rpm
        if rpm == 0:  # an admin's "no calls at all"
            return Decision(False, Standing("rpm", 0, 0, WINDOW_S))
        if rpm is not None:
            interval = WINDOW_S / rpm
            new_tat = max(account.tat, now) + interval
            ahead = new_tat - now
            if ahead - WINDOW_S > EPSILON:
                return Decision(False, Standing("rpm", rpm, 0, ahead - WINDOW_S))
            left = math.floor((WINDOW_S - ahead) / interval + EPSILON)
            if best is None or left / rpm < best[0]:
                best = (left / rpm, "rpm", rpm, left, ahead)
        need_tokens, need_usd = need
        tokens = limits.tokens_per_day
        if tokens is not None:
            before = account.day_tokens + account.held_tokens
            if before + need_tokens > tokens:
                left = max(0, tokens - before)
                return Decision(False, Standing("tokens_per_day", tokens, left, day.end - now))
            left = tokens - before - need_tokens
            share = left / tokens if tokens else 0.0
            if best is None or share < best[0]:
                best = (share, "tokens_per_day", tokens, left, day.end - now)
        if limits.usd_per_day is not None or limits.usd_per_month is not None:
            for kind, limit, spent, end in (
                ("usd_per_day", limits.usd_per_day, account.day_usd, day.end),
                ("usd_per_month", limits.usd_per_month, account.month_usd, day.month_end),
            ):
                if limit is None:
                    continue
                before_usd = spent + account.held_usd
                if before_usd + need_usd > limit + EPSILON:
                    left_usd = max(0.0, limit - before_usd)
                    return Decision(False, Standing(kind, limit, left_usd, end - now))  # type: ignore[arg-type]
                left_usd = limit - before_usd - need_usd
                share = left_usd / limit if limit else 0.0
                if best is None or share < best[0]:
                    best = (share, kind, limit, left_usd, end - now)  # type: ignore[assignment]
        account.tat = new_tat
        expiry = now + expires_s
        account.held[reservation] = (need_tokens, need_usd, expiry)
        if expiry < account.next_expiry:
            account.next_expiry = expiry
        account.held_tokens += need_tokens
        account.held_usd += need_usd
        return Decision(True, None if best is None else Standing(*best[1:]))

    async def standing(self, key: str, limits: Limits, now: float) -> list[Standing]:
        """Every set limit as it stands, nothing reserved (GET /api/v1/limits)."""
        account = self._account(key, now)
        p = periods(now)
        account.roll(today(now))
        out: list[Standing] = []
        if limits.concurrent is not None:
            out.append(
                Standing(
                    "concurrent", limits.concurrent, limits.concurrent - len(account.held), 0.0
                )
            )
        if limits.rpm is not None:
            ahead = max(0.0, account.tat - now)
            per = WINDOW_S / limits.rpm if limits.rpm else math.inf
            left = math.floor((WINDOW_S - ahead) / per + EPSILON)
            out.append(Standing("rpm", limits.rpm, left, ahead))
        if limits.tokens_per_day is not None:
            used = account.day_tokens + account.held_tokens
            out.append(
                Standing(
                    "tokens_per_day",
                    limits.tokens_per_day,
                    limits.tokens_per_day - used,
                    p.to_day_end_s,
                )
            )
        if limits.usd_per_day is not None:
            used_usd = account.day_usd + account.held_usd
            out.append(
                Standing(
                    "usd_per_day", limits.usd_per_day, limits.usd_per_day - used_usd, p.to_day_end_s
                )
            )
        if limits.usd_per_month is not None:
            used_usd = account.month_usd + account.held_usd
            out.append(
                Standing(
                    "usd_per_month",
                    limits.usd_per_month,
                    limits.usd_per_month - used_usd,
                    p.to_month_end_s,
                )
            )
        return out

    def _account(self, key: str, now: float) -> _Account:
        """The principal's account, its expired reservations released."""
        account = self._accounts.get(key)
        if account is None:
            account = self._accounts[key] = _Account()
        elif account.next_expiry <= now:
            for held, (_, _, expiry) in list(account.held.items()):
                if expiry <= now:
                    account.release(held)
            account.next_expiry = min((e for _, _, e in account.held.values()), default=math.inf)
        return account

    async def settle(self, key: str, reservation: str, tokens: int, usd: float, now: float) -> None:
        self.settle_now(key, reservation, tokens, usd, now)

    def settle_now(self, key: str, reservation: str, tokens: int, usd: float, now: float) -> None:
        """The call's real use replaces its reservation (which may have expired meanwhile)."""
        account = self._accounts.get(key)
        if account is None:
            account = self._accounts[key] = _Account()
        else:
            held = account.held.pop(reservation, None)
            if held is not None:
                account.held_tokens -= held[0]
                account.held_usd = max(0.0, account.held_usd - held[1])
        day = today(now)
        if account.day != day.day:
            account.roll(day)
        account.day_tokens += tokens
        account.day_usd += usd
        account.month_usd += usd

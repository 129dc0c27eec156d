"""The in-process store: the limits of one process (REDIS_URL unset).

The same algorithm as the Redis store's script (app/quotas/redis_store.py), in Python; the
tests run every case on both. Nothing here awaits, so one admission is atomic on the loop.
"""

import math
from dataclasses import dataclass, field
from typing import Final

from app.quotas.limits import (
    WINDOW_S,
    Day,
    Decision,
    LimitKind,
    Limits,
    Need,
    Shown,
    Standing,
    periods,
    today,
)

EPSILON: Final = 1e-9


class Refused(Exception):
    """A limit refused the call (`reserve`): the one that did, as it stands."""

    def __init__(self, standing: Standing) -> None:
        super().__init__(standing.kind)
        self.standing = standing


@dataclass(slots=True)
class _Account:
    tat: float = 0.0  # GCRA: when the next request would be "on time"
    # By reservation id: tokens, USD, expiry.
    held: dict[str | int, tuple[int, float, float]] = field(default_factory=dict)
    held_tokens: int = 0
    held_usd: float = 0.0
    next_expiry: float = float("inf")  # the soonest a reservation expires
    day: str = ""
    day_tokens: int = 0
    day_usd: float = 0.0
    month: str = ""
    month_usd: float = 0.0

    def release(self, reservation: str | int) -> None:
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
        self._day = today(0.0)  # the day of the last call

    async def admit(
        self,
        key: str,
        limits: Limits,
        need: Need,
        reservation: str | int,
        now: float,
        expires_s: float,
    ) -> Decision:
        try:
            shown = self.reserve(key, limits, need, reservation, now, expires_s)
        except Refused as refused:
            return Decision(False, refused.standing)
        return Decision(True, None if shown is None else Standing(*shown))

    def reserve(
        self,
        key: str,
        limits: Limits,
        need: Need,
        reservation: str | int,
        now: float,
        expires_s: float,
    ) -> Shown | None:
        """Admit the call and hold its need (the tightest limit after it is returned, None
        when nothing limits), or raise `Refused`. The quota hook calls this on every call,
        where the caches are cold (the rest of a request has run since) and each step costs
        several times what a loop of it measures: so one flat function of plain locals."""
        account = self._accounts.get(key)
        if account is None or account.next_expiry <= now:
            account = self._account(key, now)
        day = self._day
        if now >= day.end or now < day.start:
            day = self._day = today(now)
        if account.day != day.day:
            account.roll(day)
        # The tightest limit so far: its share left, kind, limit, what is left, its reset.
        share = 2.0
        kind: LimitKind = "concurrent"
        shown = left = reset = 0.0
        concurrent = limits.concurrent
        if concurrent is not None:
            left = float(concurrent - len(account.held) - 1)
            if left < 0:
                raise Refused(Standing("concurrent", concurrent, 0, 1.0))
            share, shown = left / concurrent, float(concurrent)
        new_tat = account.tat
        rpm = limits.rpm
        if rpm is not None:
            if rpm == 0:  # an admin's "no calls at all"
                raise Refused(Standing("rpm", 0, 0, WINDOW_S))
            interval = WINDOW_S / rpm
            new_tat = (new_tat if new_tat > now else now) + interval
            ahead = new_tat - now
            if ahead - WINDOW_S > EPSILON:
                raise Refused(Standing("rpm", rpm, 0, ahead - WINDOW_S))
            rpm_left = math.floor((WINDOW_S - ahead) / interval + EPSILON)
            if rpm_left / rpm < share:
                share, kind, reset = rpm_left / rpm, "rpm", ahead
                shown, left = float(rpm), float(rpm_left)
        need_tokens, need_usd = need
        tokens = limits.tokens_per_day
        if tokens is not None:
            before = account.day_tokens + account.held_tokens
            tokens_left = tokens - before - need_tokens
            if tokens_left < 0:
                end = day.end - now
                raise Refused(Standing("tokens_per_day", tokens, max(0, tokens - before), end))
            tokens_share = tokens_left / tokens if tokens else 0.0
            if tokens_share < share:
                share, kind, shown = tokens_share, "tokens_per_day", float(tokens)
                left, reset = float(tokens_left), day.end - now
        usd_day = limits.usd_per_day
        if usd_day is not None:
            before_usd = account.day_usd + account.held_usd
            if before_usd + need_usd > usd_day + EPSILON:
                usd_left = max(0.0, usd_day - before_usd)
                raise Refused(Standing("usd_per_day", usd_day, usd_left, day.end - now))
            usd_left = usd_day - before_usd - need_usd
            usd_share = usd_left / usd_day if usd_day else 0.0
            if usd_share < share:
                share, kind, shown = usd_share, "usd_per_day", usd_day
                left, reset = usd_left, day.end - now
        usd_month = limits.usd_per_month
        if usd_month is not None:
            before_usd = account.month_usd + account.held_usd
            if before_usd + need_usd > usd_month + EPSILON:
                usd_left = max(0.0, usd_month - before_usd)
                raise Refused(Standing("usd_per_month", usd_month, usd_left, day.month_end - now))
            usd_left = usd_month - before_usd - need_usd
            usd_share = usd_left / usd_month if usd_month else 0.0
            if usd_share < share:
                share, kind, shown = usd_share, "usd_per_month", usd_month
                left, reset = usd_left, day.month_end - now
        account.tat = new_tat
        expiry = now + expires_s
        account.held[reservation] = (need_tokens, need_usd, expiry)
        if expiry < account.next_expiry:
            account.next_expiry = expiry
        account.held_tokens += need_tokens
        account.held_usd += need_usd
        return None if share > 1.0 else (kind, shown, left, reset)

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

    def settle_now(
        self, key: str, reservation: str | int, tokens: int, usd: float, now: float
    ) -> None:
        """The call's real use replaces its reservation (which may have expired meanwhile)."""
        account = self._accounts.get(key)
        if account is None:
            account = self._accounts[key] = _Account()
        else:
            held = account.held.pop(reservation, None)
            if held is not None:
                account.held_tokens -= held[0]
                usd_left = account.held_usd - held[1]
                account.held_usd = usd_left if usd_left > 0.0 else 0.0
        day = self._day
        if now >= day.end or now < day.start:
            day = self._day = today(now)
        if account.day != day.day:
            account.roll(day)
        account.day_tokens += tokens
        account.day_usd += usd
        account.month_usd += usd

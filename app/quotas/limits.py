"""What is limited, what one call needs, and what a store decides.

Every limit is counted per principal id (a user's `sub`, `anon` for the anonymous caller):
- `rpm`: requests per minute, by GCRA (a request every 60/rpm s, bursts up to rpm): exact at
  the window's edge, one number stored;
- `tokens_per_day`, `usd_per_day` (UTC day) and `usd_per_month` (UTC month): what was settled
  in the period plus what calls in flight have reserved, against the limit;
- `concurrent`: calls in flight, streams and JSON calls alike.
A reservation holds a call's worst case from admission to settlement, and expires on its own
(`expires_s`) if its process never settles it.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, NamedTuple

LimitKind = Literal["concurrent", "rpm", "tokens_per_day", "usd_per_day", "usd_per_month"]
# Final, here and in the other compiled modules: mypyc then builds the value in, where a module
# global is a dictionary lookup on every use.
WINDOW_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class Limits:
    rpm: int | None = None
    tokens_per_day: int | None = None
    usd_per_day: float | None = None
    usd_per_month: float | None = None
    concurrent: int | None = None

    @property
    def any(self) -> bool:
        return (
            self.rpm is not None
            or self.tokens_per_day is not None
            or self.usd_per_day is not None
            or self.usd_per_month is not None
            or self.concurrent is not None
        )

    def counted(self) -> tuple[bool, bool]:
        """What a call's need must count under these limits: its tokens, its USD."""
        return (
            self.tokens_per_day is not None,
            self.usd_per_day is not None or self.usd_per_month is not None,
        )

    def values(self) -> tuple[float | None, ...]:
        """In the stores' order: concurrent, rpm, tokens/day, USD/day, USD/month."""
        return (
            self.concurrent,
            self.rpm,
            self.tokens_per_day,
            self.usd_per_day,
            self.usd_per_month,
        )


KINDS: tuple[LimitKind, ...] = (
    "concurrent",
    "rpm",
    "tokens_per_day",
    "usd_per_day",
    "usd_per_month",
)


# A call's worst case, held while it runs: (tokens, USD). A plain tuple: compiled, a NamedTuple
# is built through two module globals and a Python-level call on every call.
Need = tuple[int, float]


class Standing(NamedTuple):
    """One limit after an admission (or at a refusal): what is left, and when it is whole."""

    kind: LimitKind
    limit: float
    remaining: float
    reset_s: float  # seconds until the limit is whole again (or, refused, until one fits)


# A limit as an admitted call leaves it, for its headers: a `Standing`, or the same four values
# as a plain tuple, which the in-process store returns (no constructor to call on every call).
Shown = tuple[LimitKind, float, float, float]


class Decision(NamedTuple):
    admitted: bool
    # Admitted: the tightest limit (least left, relative to it). Refused: the one that refused.
    standing: Standing | None


class Periods(NamedTuple):
    day: str  # 20261130
    month: str  # 202611
    to_day_end_s: float
    to_month_end_s: float


@dataclass(frozen=True, slots=True)
class Day:
    """The UTC day and month a moment falls in, and when each ends."""

    start: float
    end: float
    day: str  # 20261130
    month: str  # 202611
    month_end: float


_today = Day(0.0, 0.0, "", "", 0.0)


def today(now: float) -> Day:
    """The day `now` falls in; worked out once a day (every call needs it)."""
    global _today
    day = _today
    if not day.start <= now < day.end:
        moment = datetime.fromtimestamp(now, UTC)
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        next_month = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        day = _today = Day(
            start.timestamp(),
            (start + timedelta(days=1)).timestamp(),
            start.strftime("%Y%m%d"),
            start.strftime("%Y%m"),
            next_month.timestamp(),
        )
    return day


def periods(now: float) -> Periods:
    day = today(now)
    return Periods(day.day, day.month, day.end - now, day.month_end - now)

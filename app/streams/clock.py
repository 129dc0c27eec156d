"""Deadlines of one relayed stream, and the shutdown grace shared by all of them.

Three limits, each configurable: time to the first *data* event (keep-alive comments do not
count, since OpenRouter sends them while it waits), idle time between any two events, and the
stream's whole lifetime. On SIGTERM every open stream also gets `SHUTDOWN_GRACE_S` to finish.
The upstream read in progress sits inside an `asyncio.timeout_at`; `ShutdownCoordinator` moves
that deadline forward, so a stream blocked on a silent upstream still ends on time.
"""

import asyncio

from app.config import Settings

FAULT_PREFIX = "Failed to stream response: "


class StreamClock:
    __slots__ = (
        "_settings",
        "_shutdown",
        "_end",
        "_first_data",
        "_idle_until",
        "seen_data",
        "current",
    )

    def __init__(self, settings: Settings, shutdown: "ShutdownCoordinator") -> None:
        now = asyncio.get_running_loop().time()
        self._settings = settings
        self._shutdown = shutdown
        self._end = now + settings.stream_max_lifetime_s
        self._first_data = now + settings.stream_first_event_timeout_s
        self._idle_until = now + settings.stream_idle_timeout_s
        self.seen_data = False
        self.current: asyncio.Timeout | None = None

    def deadline(self) -> float:
        limit = min(self._end, self._idle_until)
        if not self.seen_data:
            limit = min(limit, self._first_data)
        if self._shutdown.deadline is not None:
            limit = min(limit, self._shutdown.deadline)
        return limit

    def on_activity(self, *, data: bool) -> None:
        now = asyncio.get_running_loop().time()
        self._idle_until = now + self._settings.stream_idle_timeout_s
        self.seen_data = self.seen_data or data

    def expired_reason(self) -> str:
        """Why the deadline fired, in words fit for the caller."""
        now = asyncio.get_running_loop().time()
        s = self._settings
        if self._shutdown.deadline is not None and now >= self._shutdown.deadline:
            return FAULT_PREFIX + "the gateway is shutting down; please retry"
        if now >= self._end:
            return FAULT_PREFIX + f"stream exceeded {s.stream_max_lifetime_s:g} s"
        if not self.seen_data and now >= self._first_data:
            return (
                FAULT_PREFIX
                + f"no data from the AI provider within {s.stream_first_event_timeout_s:g} s"
            )
        return FAULT_PREFIX + f"the AI provider sent nothing for {s.stream_idle_timeout_s:g} s"


class ShutdownCoordinator:
    """Gives open streams a grace period on shutdown, then ends them with an error event."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.deadline: float | None = None
        self._clocks: set[StreamClock] = set()

    def track(self, clock: StreamClock) -> None:
        self._clocks.add(clock)

    def forget(self, clock: StreamClock) -> None:
        self._clocks.discard(clock)

    def open_count(self) -> int:
        """Streams open now (the open-streams metric)."""
        return len(self._clocks)

    def begin(self) -> None:
        """Start the grace period (call on the event loop's thread)."""
        if self.deadline is not None:
            return
        self.deadline = asyncio.get_running_loop().time() + self.grace_s
        for clock in self._clocks:
            if clock.current is not None and not clock.current.expired():
                clock.current.reschedule(clock.deadline())

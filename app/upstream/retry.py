"""When an upstream call may be sent again, and how long to wait first.

Billing safety: only a failure before any answer (connect refused or timed out, a hang-up
before the status line) and the statuses below are retried; an answered request never is.
"""

import random
import time
from email.utils import parsedate_to_datetime

import httpx

from app.config import Settings

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 520, 522, 524, 529})


def is_connect_failure(err: httpx.TransportError) -> bool:
    # httpx-aiohttp maps every aiohttp ClientConnectionError (a server that hung up, too) to
    # ConnectTimeout; only a real timeout underneath is a timeout.
    if isinstance(err, httpx.ConnectTimeout) and err.__cause__ is not None:
        return not isinstance(err.__cause__, TimeoutError)
    return not isinstance(err, httpx.TimeoutException)


def backoff(attempt: int, settings: Settings) -> float:
    return settings.upstream_retry_base_s * 2.0**attempt * random.uniform(0.5, 1.0)


def retry_delay(resp: httpx.Response, attempt: int, settings: Settings) -> float | None:
    """Seconds to wait before the next try, or None when waiting would exceed the cap."""
    cap = settings.upstream_retry_after_cap_s
    hint = resp.headers.get("retry-after")
    delay: float | None = None
    if hint is not None:
        try:
            delay = float(hint)
        except ValueError:
            try:
                delay = parsedate_to_datetime(hint).timestamp() - time.time()
            except (TypeError, ValueError):
                delay = None
    reset = resp.headers.get("x-ratelimit-reset")
    if delay is None and reset is not None and reset.isdigit():
        # OpenRouter sends epoch milliseconds; a daily cap resets hours away and is not retried.
        delay = int(reset) / 1000 - time.time()
    if delay is None:
        delay = backoff(attempt, settings)
    return max(delay, 0.0) if delay <= cap else None

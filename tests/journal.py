"""Reading the mock's journal from tests."""

import time
from typing import Any

from mock_openrouter.testing import MockControl


def wait_upstream_closed(journal: MockControl, timeout: float = 3) -> dict[str, Any]:
    """The newest upstream request, once it has ended (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        entries = journal.requests()
        if entries and (entries[-1]["ended"] != "in_progress" or time.monotonic() > deadline):
            return entries[-1]
        assert time.monotonic() < deadline, "the upstream was never called"
        time.sleep(0.01)

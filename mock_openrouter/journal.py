"""The request journal: one entry per request to ``/api/v1/*``, served at ``GET /__mock/requests``.

Entries are mutable while their response runs (``ended="in_progress"``) so a test can watch a
stream from the outside; the disconnect time is written the moment the server sees it, which is
what lets gateway tests assert "upstream closed within 100 ms of the client going away".
"""

from __future__ import annotations

import collections
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import orjson

Ended = Literal["completed", "client_disconnect", "fault", "in_progress"]


@dataclass(slots=True)
class JournalEntry:
    seq: int
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: str
    json: Any
    arrived_at: float
    scenario: str = ""
    scenario_source: str = ""
    scenario_params: dict[str, str] = field(default_factory=dict)
    stream: bool = False
    generation_id: str | None = None
    status: int | None = None
    first_byte_at: float | None = None
    last_byte_at: float | None = None
    bytes_sent: int = 0
    ended: Ended = "in_progress"
    disconnect_at: float | None = None
    billed_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def decode_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


class Journal:
    """A bounded, in-order record of requests; ``seq`` keeps counting across clears."""

    def __init__(self, maxlen: int, enabled: bool = True) -> None:
        self.enabled = enabled
        self._entries: collections.deque[JournalEntry] = collections.deque(maxlen=maxlen)
        self._next_seq = 1

    def next_seq(self) -> int:
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def add(self, entry: JournalEntry) -> None:
        if self.enabled:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        return [entry.as_dict() for entry in self._entries]

    def clear(self, reset_seq: bool = False) -> None:
        self._entries.clear()
        if reset_seq:
            self._next_seq = 1

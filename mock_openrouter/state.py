"""Process state behind the control plane: config, journal, scenario queue, stats, generations,
video jobs."""

from __future__ import annotations

import collections
import fnmatch
import random
import time
from dataclasses import dataclass, field
from typing import Any

from .config import MockConfig
from .dsl import ScenarioSpec, spec_from_json
from .journal import Journal
from .video_jobs import VideoJobs

API_PREFIX = "/api/v1"
GENERATIONS_MAX = 10_000


@dataclass(slots=True)
class QueueGroup:
    path: str
    model: str
    key: str
    responses: collections.deque[ScenarioSpec]

    def matches(self, path: str, model: str, key: str) -> bool:
        return (
            fnmatch.fnmatchcase(path, self.path)
            and fnmatch.fnmatchcase(model, self.model)
            and fnmatch.fnmatchcase(key, self.key)
        )


class ScenarioQueue:
    """FIFO scenarios for the next matching requests (path, model and key globs)."""

    def __init__(self) -> None:
        self._groups: list[QueueGroup] = []

    def enqueue(self, match: dict[str, Any], responses: list[dict[str, Any]]) -> int:
        path = str(match.get("path", "*"))
        if not path.startswith(("/api/", "*")):
            path = API_PREFIX + path
        specs = collections.deque(spec_from_json(r) for r in responses)
        group = QueueGroup(path, str(match.get("model", "*")), str(match.get("key", "*")), specs)
        self._groups.append(group)
        return len(specs)

    def take(self, path: str, model: str, key: str) -> ScenarioSpec | None:
        for group in self._groups:
            if group.responses and group.matches(path, model, key):
                spec = group.responses.popleft()
                if not group.responses:
                    self._groups.remove(group)
                return spec
        return None

    def pending(self) -> int:
        return sum(len(g.responses) for g in self._groups)

    def clear(self) -> None:
        self._groups.clear()


@dataclass(slots=True)
class Stats:
    started_at: float = field(default_factory=time.time)
    requests: int = 0
    by_path: collections.Counter[str] = field(default_factory=collections.Counter)
    in_flight: int = 0
    completed: int = 0
    client_disconnects: int = 0
    faults: int = 0
    bytes_sent: int = 0
    ttfb_count: int = 0
    ttfb_sum_s: float = 0.0
    ttfb_max_s: float = 0.0

    def record_ttfb(self, seconds: float) -> None:
        self.ttfb_count += 1
        self.ttfb_sum_s += seconds
        self.ttfb_max_s = max(self.ttfb_max_s, seconds)

    def as_dict(self) -> dict[str, Any]:
        mean = self.ttfb_sum_s / self.ttfb_count if self.ttfb_count else None
        return {
            "started_at": self.started_at,
            "requests": self.requests,
            "by_path": dict(self.by_path),
            "in_flight": self.in_flight,
            "completed": self.completed,
            "client_disconnects": self.client_disconnects,
            "faults": self.faults,
            "bytes_sent": self.bytes_sent,
            "first_byte_ms": {
                "count": self.ttfb_count,
                "mean": None if mean is None else mean * 1000,
                "max": self.ttfb_max_s * 1000,
            },
        }


class MockState:
    def __init__(self, config: MockConfig) -> None:
        self.config = config
        self._startup = (config.seed, config.bench)
        self.journal = Journal(config.journal_max, enabled=not config.bench)
        self.queue = ScenarioQueue()
        self.stats = Stats()
        self.generations: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        self.videos = VideoJobs()
        self.key_usage = 0.0
        self.config_version = 0

    def update_config(self, values: dict[str, Any]) -> list[str]:
        self.config_version += 1
        return self.config.update(values)

    def rng_for(self, seq: int) -> random.Random:
        # One stream per request: a fixed seed and request order give the same wire forms.
        return random.Random(self.config.seed * 1_000_003 + seq)

    def remember_generation(self, gen_id: str, record: dict[str, Any]) -> None:
        self.generations[gen_id] = record
        while len(self.generations) > GENERATIONS_MAX:
            self.generations.popitem(last=False)

    def reset(self) -> None:
        self.config = MockConfig.for_mode(*self._startup)
        self.journal.clear(reset_seq=True)
        self.queue.clear()
        self.stats = Stats()
        self.generations.clear()
        self.videos.clear()
        self.key_usage = 0.0
        self.config_version += 1

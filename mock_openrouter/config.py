"""Run-wide defaults, set by the CLI and ``POST /__mock/config``; DSL parameters override them.

Timing defaults are far smaller than the real service's (OpenRouter's first token takes about
300 ms) so a gateway test suite that exercises every scenario stays fast; tests that need
real gaps ask for them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(slots=True)
class MockConfig:
    seed: int = 0
    bench: bool = False
    ttft_ms: float = 5.0
    tpot_ms: float = 2.0
    jitter: float = 0.0  # lognormal sigma applied to every tpot gap; 0 = fixed gaps
    keepalive_ms: float = 1000.0
    header_delay_ms: float = 0.0
    comment_prob: float = 0.25  # chance of a keep-alive comment between two data events
    split_pause_ms: float = 1.0  # pause between the halves of a split write
    gzip: bool = True  # non-stream JSON is gzip-encoded when the client accepts it, as upstream
    provider_supports_cancel: bool = True
    generation_lag_ms: float = 0.0
    key_limit: float | None = None
    journal_max: int = 10_000
    video_polls: int = 3  # the poll of /videos/{id} that answers the terminal status
    video_bytes: int = 3_000_000  # size of a completed video's MP4

    @classmethod
    def for_mode(cls, seed: int, bench: bool) -> MockConfig:
        if bench:
            return cls(seed=seed, bench=True, ttft_ms=0.0, tpot_ms=0.0, comment_prob=0.0)
        return cls(seed=seed)

    def update(self, values: dict[str, Any]) -> list[str]:
        """Apply known keys (coerced to each field's type); return the unknown ones."""
        types = {f.name: f.type for f in fields(self)}
        unknown: list[str] = []
        for key, value in values.items():
            kind = types.get(key)
            if kind is None or key == "bench":
                unknown.append(key)
            elif value is None:
                setattr(self, key, None if "None" in str(kind) else getattr(MockConfig(), key))
            elif "bool" in str(kind):
                setattr(self, key, value in (True, 1, "1", "true", "on", "yes"))
            elif "int" in str(kind):
                setattr(self, key, int(value))
            else:
                setattr(self, key, float(value))
        return unknown

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

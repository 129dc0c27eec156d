"""Per-request wire variants and timing knobs, drawn from a seeded RNG.

Every valid form is picked at random so a gateway cannot fit one; each pick can be pinned by a DSL
parameter of the same name (``usage_form=U0``, ``empty_first=1``, ``provider=0``, ``native=STOP``,
``fingerprint=1``, ``comments=3``, ``ws=2``, ``write_split=coalesce``, ``crlf=1``, ``shape=B``,
``end=close``). All draws happen in a fixed order, so pinning one variant leaves the others as
they would have been for that seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from . import payloads as p
from .config import MockConfig
from .dsl import ScenarioSpec
from .plan import WRITE_SPLITS


@dataclass(frozen=True, slots=True)
class Variants:
    usage_form: str  # "U1": usage on a repeated finish choice; "U0": usage with ``choices: []``
    empty_first: bool
    provider: str | None
    fingerprint: bool
    native: str | None  # raw native_finish_reason, or None to omit the key
    lead_comments: int
    ws_repeats: int
    write_split: str
    crlf: bool
    shape: str
    end: str


def _named(spec: ScenarioSpec, key: str, present: bool, drawn: str) -> str | None:
    """``key=0`` omits, ``key=1`` forces the drawn value, any other value is used verbatim."""
    raw = spec.params.get(key)
    if raw is None:
        return drawn if present else None
    flag = spec.get_flag(key)
    if raw.strip().lower() in ("0", "1", "true", "false", "on", "off", "yes", "no", ""):
        return drawn if flag else None
    return raw


def choose_variants(
    spec: ScenarioSpec, rng: random.Random, finish: str, multibyte: bool
) -> Variants:
    r_usage, r_empty, r_provider, r_fp, r_native = (rng.random() for _ in range(5))
    lead, ws = rng.randint(1, 3), rng.randint(1, 5)
    splits = list(WRITE_SPLITS) if multibyte else [s for s in WRITE_SPLITS if s != "split_mid_utf8"]
    split = rng.choice(splits)
    shape, end = rng.choice("ABC"), rng.choice(("done", "close"))
    provider = rng.choice(p.PROVIDERS)
    native = rng.choice(p.NATIVE_FINISH.get(finish, (finish,)))

    usage_form = spec.params.get("usage_form", "U0" if r_usage < 0.5 else "U1").upper()
    empty_first = spec.get_flag("empty_first")
    fingerprint = spec.get_flag("fingerprint")
    write_split = spec.params.get("write_split", split)
    return Variants(
        usage_form="U0" if usage_form == "U0" else "U1",
        empty_first=r_empty < 0.3 if empty_first is None else empty_first,
        provider=_named(spec, "provider", r_provider < 0.8, provider),
        fingerprint=r_fp < 0.5 if fingerprint is None else fingerprint,
        native=_named(spec, "native", r_native < 0.7, native),
        lead_comments=max(0, spec.get_int("comments", lead)),
        ws_repeats=max(0, spec.get_int("ws", ws)),
        write_split=write_split if write_split in WRITE_SPLITS else "one_per_event",
        crlf=bool(spec.get_flag("crlf")),
        shape=spec.params.get("shape", shape).upper()[:1] or "A",
        end=spec.params.get("end", end),
    )


@dataclass(frozen=True, slots=True)
class Knobs:
    ttft_s: float
    tpot_s: float
    jitter: float
    keepalive_s: float
    header_delay_s: float
    comment_prob: float
    pause_s: float

    @classmethod
    def resolve(cls, cfg: MockConfig, spec: ScenarioSpec) -> Knobs:
        slow = "slow_headers" in (spec.name, spec.params.get("fault"))
        header_default = 5000.0 if slow else cfg.header_delay_ms
        return cls(
            ttft_s=spec.get_float("ttft_ms", cfg.ttft_ms) / 1000,
            tpot_s=spec.get_float("tpot_ms", cfg.tpot_ms) / 1000,
            jitter=spec.get_float("jitter", cfg.jitter),
            keepalive_s=spec.get_float("keepalive_ms", cfg.keepalive_ms) / 1000,
            header_delay_s=spec.get_float("header_delay_ms", header_default) / 1000,
            comment_prob=spec.get_float("comment_prob", cfg.comment_prob),
            pause_s=spec.get_float("split_pause_ms", cfg.split_pause_ms) / 1000,
        )

    def tpot(self, rng: random.Random) -> float:
        if self.jitter <= 0 or self.tpot_s <= 0:
            return self.tpot_s
        return self.tpot_s * rng.lognormvariate(0.0, self.jitter)

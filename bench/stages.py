"""What each stage costs: the gateway with the stage off beside the same gateway with it on (in
each way it can be configured), all running at once and measured in interleaved rounds.

Measured one after the other, the variants' figures moved with the machine's load more than
with the stage (a run on this shared 2-core machine showed the ledger off at 570 µs/req and on
at 417): a neighbour's burst fell on one variant only. Here every round runs each process for
a few seconds in a rotated order, and a stage's cost is the median, over rounds, of its
round's CPU per request against the stage-off process's in the same round.
"""

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import wrk
from bench.procs import Server
from bench.report import Measured, StageResult, _f
from bench.scenarios import (
    SCENARIOS,
    headers,
    key_pair_env,
    long_hs256_token,
    probe,
    rs256_token,
    user_token,
)

# The scenarios that show a stage: a row per call, JSON and streamed, on both surfaces.
STAGE_SCENARIOS = ("legacy_json", "legacy_stream", "v1_json")
# The PostgreSQL variant writes to a database of its own, made on first use, so the benchmark
# leaves nothing in the tests' database.
BENCH_DB = "ai_gateway_bench"


@dataclass(frozen=True)
class Stage:
    name: str
    off: tuple[str, dict[str, str]]  # label, environment
    on: dict[str, dict[str, str]]  # label → environment
    # The most each setting may add to a request's CPU, in % (bench/README.md); a setting
    # without one is reported, not judged.
    budget_pct: dict[str, float]
    # The caller's token, where a setting's callers send another kind (label → maker(secret)).
    tokens: dict[str, Callable[[str], str]] = field(default_factory=dict)
    # Every setting on the "off" setting's process, where only the callers differ (the token):
    # two processes with the same settings differ by a few % on their own (layout, hash seeds),
    # which would be read as the stage's cost.
    one_process: bool = False
    # Also counted under callgrind (bench/instructions.py), the off setting and the judged ones:
    # a figure that hardly moves with the machine's load, as CPU time does.
    counted: bool = False


# Limits nobody reaches in a run, so every call is admitted, reserved and settled.
_QUOTAS = {
    "LEDGER_ENABLED": "false",
    "QUOTA_RPM": "1000000000",
    "QUOTA_TOKENS_PER_DAY": "1000000000000000",
    "QUOTA_USD_PER_DAY": "1000000000",
    "QUOTA_USD_PER_MONTH": "1000000000",
    "QUOTA_CONCURRENT_STREAMS": "1000000",
}
_KEY_PAIR = key_pair_env()
STAGES = [
    Stage(
        "usage ledger",
        ("ledger off", {"LEDGER_ENABLED": "false"}),
        {
            "ledger on, SQLite (default)": {},
            "ledger on, PostgreSQL": {
                "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{BENCH_DB}"
            },
        },
        {"ledger on, SQLite (default)": 10.0, "ledger on, PostgreSQL": 10.0},
    ),
    Stage(
        "quotas",
        ("quotas off", {"LEDGER_ENABLED": "false"}),
        {
            "quotas on, in-process": _QUOTAS,
            # Its own database number, so the run's counts stay out of everyone else's way.
            "quotas on, Redis": {**_QUOTAS, "REDIS_URL": "redis://127.0.0.1:6379/15"},
        },
        {"quotas on, in-process": 5.0},
        counted=True,
    ),
    Stage(
        "metrics",
        ("metrics off", {"LEDGER_ENABLED": "false", "METRICS_ENABLED": "false"}),
        {"metrics on (default)": {"LEDGER_ENABLED": "false"}},
        {"metrics on (default)": 5.0},
    ),
    # Issue 17: the same gateway (HS256 secret and key pair, as an InsForge backend in key-pair
    # mode), its callers' tokens signed one way or the other. Verified tokens are cached, so
    # an RS256 token should cost what an HS256 one does.
    Stage(
        "RS256 tokens",
        ("HS256 token", {"LEDGER_ENABLED": "false", **_KEY_PAIR}),
        {
            "RS256 token": {},
            # The control: an HS256 token as long as the RS256 one (reported, not judged).
            "HS256 token of that length": {},
        },
        {"RS256 token": 5.0},
        tokens={"RS256 token": rs256_token, "HS256 token of that length": long_hs256_token},
        one_process=True,
    ),
    # What two processes with the same settings differ by on their own: a stage cost within
    # this is not told apart from the noise (reported, not judged).
    Stage(
        "noise floor",
        ("a gateway", {"LEDGER_ENABLED": "false"}),
        {"another process, same settings": {"LEDGER_ENABLED": "false"}},
        {},
    ),
]

Start = Callable[[str, dict[str, str]], Server]


def measure(
    stage: Stage,
    start: Start,
    mock: Server,
    workdir: Path,
    secret: str,
    *,
    rounds: int,
    seconds: int,
    connections: int,
) -> StageResult:
    """Start the stage's processes (one that cannot start is skipped and said so), then for each
    scenario: probe and warm each, and run `rounds` rounds of `seconds` on each in turn.

    Each setting runs on two processes, started in mirrored order (off, on…, …on, off): a
    process started earlier came out dearer (four with the same settings, started in turn,
    cost up to 2.7 % more the earlier they started, and the order reversed, reversed the
    ranking), so one process per setting gave whichever setting started first a handicap. A
    stage on one process (`one_process`) has no order to mirror."""
    result = StageResult(stage.name, stage.off[0], stage.budget_pct)
    order = [stage.off, *stage.on.items()]
    if not stage.one_process:
        order += order[::-1]
    runs: list[tuple[str, Server]] = []
    started: list[Server] = []
    try:
        for label, env in order:
            if stage.one_process and label != stage.off[0]:
                runs += [(label, server) for name, server in runs[:1] if name == stage.off[0]]
                continue
            try:
                server = start(label, env)
            except RuntimeError as err:
                result.skipped[label] = str(err)
                continue
            started.append(server)
            runs.append((label, server))
        auth = {label: headers(stage.tokens.get(label, user_token)(secret)) for label, _ in runs}
        for s in (s for s in SCENARIOS if s.key in STAGE_SCENARIOS):
            ready = []
            for label, server in runs:
                answer = probe(f"{server.url}{s.path}", s.body, auth[label])
                if answer.ok:
                    ready.append((label, server))
                    url = f"{server.url}{s.path}"
                    wrk.run(workdir, url, s.body, auth[label], connections=connections, seconds=1,
                            servers={})  # fmt: skip
                else:
                    result.skipped[f"{label}, {s.label}"] = f"probe: {answer.status}"
            for n in range(rounds):
                turn = n % len(ready)
                measured: dict[int, Measured] = {}
                for i in [*range(turn, len(ready)), *range(turn)]:
                    label, server = ready[i]
                    load = wrk.run(
                        workdir, f"{server.url}{s.path}", s.body, auth[label],
                        connections=connections, seconds=seconds,
                        servers={"gateway": server.pids, "mock": mock.pids},
                    )  # fmt: skip
                    measured[i] = Measured(load=load)
                # In start order, so a setting's first process pairs with the off setting's
                # first, and its second with the second (see `cost_pct`).
                for i, (label, _) in enumerate(ready):
                    result.rounds.setdefault(label, {}).setdefault(s.key, []).append(measured[i])
    finally:
        for server in started:
            server.stop()
    return result


def _cpus(measured: list[Measured]) -> list[float]:
    return [m.load.cpu_us["gateway"] for m in measured if m.load is not None]


def _pairs(result: StageResult, label: str, key: str) -> list[float]:
    """(on ÷ off − 1) in %, for each round and process: each process against the off
    setting's process started in the same place of the mirrored order."""
    on = _cpus(result.rounds.get(label, {}).get(key, []))
    off = _cpus(result.rounds.get(result.off, {}).get(key, []))
    return [(a / b - 1) * 100 for a, b in zip(on, off, strict=False) if b > 0]


def cost_pct(result: StageResult, label: str, key: str) -> float | None:
    """The median over rounds and processes of the pairs' cost; None when either setting was
    not measured."""
    pairs = _pairs(result, label, key)
    return statistics.median(pairs) if pairs else None


def interval_pct(result: StageResult, label: str, key: str) -> tuple[float, float] | None:
    """Where the cost lies, at 95 %: the interval of the median the pairs give by their order
    alone (the k-th lowest and the k-th highest, k from the binomial distribution), so a round
    a neighbour slowed widens it instead of moving it. None with fewer than six pairs."""
    pairs = sorted(_pairs(result, label, key))
    n = len(pairs)
    below, k = 0.0, 0
    while below + math.comb(n, k) / 2**n <= 0.025:
        below += math.comb(n, k) / 2**n
        k += 1
    return None if k == 0 else (pairs[k - 1], pairs[n - k])


def table(result: StageResult) -> list[str]:
    on = [label for label in result.rounds if label != result.off]
    lines = [
        f"| scenario | {result.off} CPU µs/req | "
        + " | ".join(f"{label} CPU µs/req (cost, and its 95 % interval)" for label in on)
        + " |",
        "|---|---|" + "---|" * len(on),
    ]
    for s in (s for s in SCENARIOS if s.key in STAGE_SCENARIOS):
        off = _cpus(result.rounds.get(result.off, {}).get(s.key, []))
        cells = []
        for label in on:
            cpus = _cpus(result.rounds[label].get(s.key, []))
            cost = cost_pct(result, label, s.key)
            bounds = interval_pct(result, label, s.key)
            shown = "–" if cost is None else f"{cost:+.1f} %"
            if bounds is not None:
                shown += f", {bounds[0]:+.1f} to {bounds[1]:+.1f}"
            cells.append(f"{_f(statistics.median(cpus) if cpus else None)} ({shown})")
        median_off = _f(statistics.median(off) if off else None)
        lines.append(f"| {s.label} | {median_off} | {' | '.join(cells)} |")
    rounds = max((len(v) for row in result.rounds.values() for v in row.values()), default=0)
    lines += [
        "",
        f"Medians of {rounds} measurements per setting and scenario, in interleaved rounds (two "
        "processes per setting, started in mirrored order, unless the stage runs on one).",
    ]
    lines += [f"- {label}: skipped ({why})" for label, why in result.skipped.items()]
    return lines


def verdict(intervals: list[tuple[float, float] | None], budget_pct: float) -> str:
    """PASS when the cost's 95 % interval lies within the budget in every scenario, FAIL when
    it lies above it in any, else UNDECIDED: this shared VM's CPU time has drifted by tens of
    per cent from one second to the next, and a cost that close to its budget is not told
    either way by CPU time (bench/README.md: `bench.instructions` counts it instead)."""
    measured = [i for i in intervals if i is not None]
    if not measured or len(measured) < len(intervals):
        return "FAIL"  # not measured
    if any(low > budget_pct for low, _ in measured):
        return "FAIL"
    return "PASS" if all(high <= budget_pct for _, high in measured) else "UNDECIDED"


def budget(result: StageResult) -> str | None:
    """Each judged setting's worst cost over the scenarios against its budget, judged by its
    intervals (`verdict`)."""
    judged = result.budget_pct
    if not judged:
        return None
    worst: dict[str, float | None] = {}
    verdicts = []
    for label in judged:
        costs = [cost_pct(result, label, key) for key in STAGE_SCENARIOS]
        measured = [c for c in costs if c is not None]
        worst[label] = max(measured) if len(measured) == len(costs) else None
        intervals = [interval_pct(result, label, key) for key in STAGE_SCENARIOS]
        verdicts.append(verdict(intervals, judged[label]))
    overall = next((v for v in ("FAIL", "UNDECIDED") if v in verdicts), "PASS")
    shown = "; ".join(
        f"{label} {'not measured' if c is None else f'{c:+.1f} %'} (budget ≤ {judged[label]:g} %)"
        for label, c in worst.items()
    )
    return (
        f"- **{overall}** {result.name}, the most it adds to a request's CPU "
        f"in any scenario: {shown}, judged by its 95 % intervals"
    )


def _counted_costs(result: StageResult) -> dict[str, dict[str, dict[str, float]]]:
    """label → scenario → {"cycles", "instructions"}: what each counted setting adds, in %."""
    off = result.counted.get(result.off, {})
    return {
        label: {
            key: {what: 100 * (row[key][what] / off[key][what] - 1) for what in row[key]}
            for key in row
            if key in off
        }
        for label, row in result.counted.items()
        if label != result.off
    }


def counted_lines(result: StageResult) -> list[str]:
    """The counted costs by scenario (they move by under 1 % between runs)."""
    lines = []
    for label, costs in _counted_costs(result).items():
        cycles = " / ".join(f"{c['cycles']:+.2f} %" for c in costs.values())
        instructions = " / ".join(f"{c['instructions']:+.2f} %" for c in costs.values())
        lines.append(
            f"Counted under callgrind (bench/instructions.py), {label}, "
            f"{' / '.join(costs)}: estimated cycles {cycles}; instructions {instructions}."
        )
    return lines


def counted_budget(result: StageResult) -> list[str]:
    """PASS when the counted cost (estimated cycles) is within the budget in every scenario."""
    lines = []
    for label, costs in _counted_costs(result).items():
        limit = result.budget_pct.get(label)
        if limit is None:
            continue
        worst = max((c["cycles"] for c in costs.values()), default=None)
        ok = worst is not None and len(costs) == len(STAGE_SCENARIOS) and worst <= limit
        lines.append(
            f"- **{'PASS' if ok else 'FAIL'}** {result.name}, counted (estimated cycles), the "
            f"most it adds in any scenario: {label} "
            f"{'not counted' if worst is None else f'{worst:+.2f} %'} (budget ≤ {limit:g} %)"
        )
    return lines

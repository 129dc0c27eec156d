"""The run's results, and the Markdown report with the budget's PASS/FAIL lines.

The budget is checked here, from the measured figures, not by unit tests: a slower machine or a
busy neighbour fails a line without failing the build, and the reader sees by how much.
"""

from dataclasses import dataclass, field

from bench.wrk import Load

# bench/README.md explains each line.
BUDGET_JSON_US = 600
BUDGET_STREAM_US = 1200
BUDGET_ADDED_P50_MS = 1.0
BUDGET_STREAMS = 5000
BUDGET_RSS_KB = 40.0


@dataclass
class Measured:
    """One target's figures for one request, or why there are none."""

    load: Load | None = None
    skipped: str = ""
    events: int = 0  # SSE data events in one probed answer (0 for JSON)


@dataclass
class ScenarioResult:
    key: str
    label: str
    kind: str
    gateway: Measured


@dataclass
class StageResult:
    """One stage's interleaved rounds (bench/stages.py)."""

    name: str
    off: str  # the label of the process with the stage off
    budget_pct: dict[str, float]  # label → the most it may add, in %
    rounds: dict[str, dict[str, list[Measured]]] = field(default_factory=dict)  # label → key
    skipped: dict[str, str] = field(default_factory=dict)  # what could not run, and why
    # Counted under callgrind (bench/instructions.py): label → scenario → estimated cycles and
    # instructions per request.
    counted: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


@dataclass
class Results:
    started_utc: str
    machine: dict[str, str]
    versions: dict[str, str]
    config: dict[str, object]
    baselines: dict[str, dict[str, Measured]] = field(default_factory=dict)  # kind → target
    scenarios: list[ScenarioResult] = field(default_factory=list)
    sequential: dict[str, Measured] = field(default_factory=dict)  # target → 1 connection
    # Each stage off and on, in interleaved rounds (bench/stages.py).
    stages: list[StageResult] = field(default_factory=list)
    # Throughput with 1 and 2 workers, in interleaved rounds (bench/workers.py).
    workers: dict[str, list[Measured]] = field(default_factory=dict)
    workers_skipped: str = ""
    streams: dict[str, object] | None = None
    streams_skipped: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: int = 0  # the whole run, servers' start-up included


def _f(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _cpu(m: Measured | None, name: str) -> float | None:
    return m.load.cpu_us.get(name) if m is not None and m.load is not None else None


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or b is None or b == 0 else f"{a / b:.1f}×"


def _added(m: Load, base: Load | None) -> str:
    if base is None:
        return "–"
    return f"{m.p50_ms - base.p50_ms:+.2f} / {m.p99_ms - base.p99_ms:+.2f}"


def _busy(m: Load, name: str) -> str:
    """How much of its core the process used: under 100 %, req/s was limited by something else
    (a neighbour on the same core, or waiting), and only the CPU figure compares."""
    return f"{m.rps * m.cpu_us.get(name, 0) / 1e4:.0f} %"


def scenario_table(r: Results) -> list[str]:
    lines = [
        "| scenario | gateway req/s | gateway core busy | p50 / p99 ms "
        "| added p50 / p99 ms over (a) | gateway CPU µs/req | mock CPU µs/req (a) "
        "| nginx CPU µs/req (b) | LiteLLM CPU µs/req (d) | wrk CPU µs/req | errors | SSE events |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in r.scenarios:
        base = r.baselines.get(s.kind, {})
        direct, nginx, lite = base.get("mock"), base.get("nginx"), base.get("litellm")
        g = s.gateway.load
        if g is None:
            lines.append(f"| {s.label} | {s.gateway.skipped} | | | | | | | | | | |")
            continue
        lines.append(
            f"| {s.label} | {_f(g.rps)} | {_busy(g, 'gateway')} "
            f"| {_f(g.p50_ms, 2)} / {_f(g.p99_ms, 2)} "
            f"| {_added(g, direct.load if direct else None)} | **{_f(g.cpu_us['gateway'])}** "
            f"| {_f(_cpu(direct, 'mock'))} | {_f(_cpu(nginx, 'nginx'))} "
            f"| {_f(_cpu(lite, 'litellm'))} | {_f(g.generator_cpu_us)} | {g.errors} "
            f"| {s.gateway.events or '–'} |"
        )
    return lines


def ratio_table(r: Results) -> list[str]:
    lines = [
        "| scenario | gateway/mock | gateway/nginx | LiteLLM/gateway |",
        "|---|---|---|---|",
    ]
    for s in r.scenarios:
        base = r.baselines.get(s.kind, {})
        g = _cpu(s.gateway, "gateway")
        lines.append(
            f"| {s.label} | {_ratio(g, _cpu(base.get('mock'), 'mock'))} "
            f"| {_ratio(g, _cpu(base.get('nginx'), 'nginx'))} "
            f"| {_ratio(_cpu(base.get('litellm'), 'litellm'), g)} |"
        )
    return lines


def baseline_table(r: Results) -> list[str]:
    lines = [
        "| upstream request | target | req/s | proxy core busy | p50 / p99 ms | proxy CPU µs/req "
        "| mock CPU µs/req | wrk CPU µs/req | errors | SSE events |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    names = {"mock": "(a) mock direct", "nginx": "(b) nginx", "litellm": "(d) LiteLLM"}
    for kind, targets in r.baselines.items():
        for target, m in targets.items():
            if m.load is None:
                lines.append(f"| {kind} | {names[target]} | {m.skipped} | | | | | | | |")
                continue
            x = m.load
            proxy = "–" if target == "mock" else _f(x.cpu_us.get(target))
            busy = "–" if target == "mock" else _busy(x, target)
            lines.append(
                f"| {kind} | {names[target]} | {_f(x.rps)} | {busy} | {_f(x.p50_ms, 2)} / "
                f"{_f(x.p99_ms, 2)} | {proxy} | {_f(x.cpu_us.get('mock'))} "
                f"| {_f(x.generator_cpu_us)} | {x.errors} | {m.events or '–'} |"
            )
    return lines


def sequential_table(r: Results) -> list[str]:
    lines = [
        "| target | requests | p50 ms | p99 ms | added p50 / p99 ms |",
        "|---|---|---|---|---|",
    ]
    direct = r.sequential.get("mock")
    for target, m in r.sequential.items():
        if m.load is None:
            lines.append(f"| {target} | {m.skipped} | | | |")
            continue
        added = "–" if target == "mock" else _added(m.load, direct.load if direct else None)
        lines.append(
            f"| {target} | {m.load.requests} | {_f(m.load.p50_ms, 3)} "
            f"| {_f(m.load.p99_ms, 3)} | {added} |"
        )
    return lines


def streams_section(r: Results) -> list[str]:
    s = r.streams
    if s is None:
        return [f"Not measured: {r.streams_skipped}"]
    lines = [
        "| target open streams | open at plateau | ramp s | gateway RSS MB | RSS per stream KB "
        "| errors so far |",
        "|---|---|---|---|---|---|",
    ]
    levels = s["levels"]
    assert isinstance(levels, list)
    for lv in levels:
        lines.append(
            f"| {lv['level']:,} | {lv['open']:,} | {lv['ramp_s']} | {lv['rss_kb'] / 1024:.1f} "
            f"| {lv['rss_per_stream_kb']} | {lv['errors_so_far']} |"
        )
    lines += [
        "",
        f"Baseline RSS before the ramp {int(str(s['base_rss_kb'])) / 1024:.1f} MB. "
        f"{s['launched']} streams launched, {s['done']} ended with `done`; errors: "
        f"connect {s['connect_errors']}, status {s['status_errors']} {s['statuses']}, "
        f"error event {s['error_events']}, cut short {s['cut_short']}, stalled {s['stalled']}. "
        f"Gateway RSS after they ended {int(str(s['rss_after_kb'])) / 1024:.1f} MB. "
        f"CPU over the {s['seconds']} s test: gateway {s['gateway_cpu_s']} s, "
        f"stream client {s['generator_cpu_s']} s. Model `{s['model']}`; "
        f"{s['events']:,} events received, so the gateway spent "
        f"{_per(s['gateway_cpu_s'], s['launched'])} µs per stream or "
        f"{_per(s['gateway_cpu_s'], s['events'])} µs per event relayed (all its CPU during "
        "the test, opening the streams included).",
    ]
    samples = s["samples"]
    assert isinstance(samples, list)
    lines += [f"- failure seen: `{x!r}`" for x in samples]
    if r.streams_skipped:
        lines += ["", r.streams_skipped]
    return lines


def _per(seconds: object, count: object) -> str:
    n = int(str(count))
    return "–" if n == 0 else f"{float(str(seconds)) / n * 1e6:,.0f}"


def budget(r: Results) -> list[str]:
    """One line per budget item; a figure that could not be measured fails its line."""
    by_key = {s.key: s for s in r.scenarios}

    def cpu_line(key: str, limit: int, what: str) -> str:
        cpu = _cpu(by_key[key].gateway, "gateway") if key in by_key else None
        verdict = "FAIL" if cpu is None or cpu > limit else "PASS"
        return f"- **{verdict}** {what}: {_f(cpu)} CPU µs per request (budget ≤ {limit:,})"

    lines = [
        cpu_line("legacy_json", BUDGET_JSON_US, "legacy chat JSON"),
        cpu_line("legacy_stream", BUDGET_STREAM_US, "legacy chat stream, 20 chunks"),
    ]
    gw, direct = r.sequential.get("gateway"), r.sequential.get("mock")
    added = None
    if gw and gw.load and direct and direct.load:
        added = gw.load.p50_ms - direct.load.p50_ms
    verdict = "FAIL" if added is None or added > BUDGET_ADDED_P50_MS else "PASS"
    lines.append(
        f"- **{verdict}** sequential added latency p50: {_f(added, 3)} ms "
        f"(budget ≤ {BUDGET_ADDED_P50_MS} ms)"
    )
    top = None
    if r.streams is not None:
        levels = r.streams["levels"]
        assert isinstance(levels, list)
        top = next((lv for lv in levels if lv["level"] == BUDGET_STREAMS), None)
    ok = (
        top is not None
        and r.streams is not None
        and top["open"] >= BUDGET_STREAMS
        and top["rss_per_stream_kb"] <= BUDGET_RSS_KB
        and r.streams["done"] == r.streams["launched"]
    )
    shown = (
        "not measured"
        if top is None or r.streams is None
        else f"{top['open']:,} open, {top['rss_per_stream_kb']} KB RSS each, "
        f"{int(str(r.streams['launched'])) - int(str(r.streams['done']))} errors"
    )
    lines.append(
        f"- **{'PASS' if ok else 'FAIL'}** {BUDGET_STREAMS:,} concurrent streams in one process: "
        f"{shown} (budget ≤ {BUDGET_RSS_KB:.0f} KB each, no errors)"
    )
    return lines

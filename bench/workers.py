"""Throughput with one worker and with two (`ai-gateway --workers N`), in the same run.

Both gateways run at once, unpinned (two workers need both cores), against the same mock, and
are loaded in interleaved rounds like the stages (bench/stages.py): legacy chat JSON at 64
connections, so one process saturates. The mock and wrk stay pinned to the harness's core, so
on a 2-core machine the second worker competes with them for it: the figure says what a second
worker buys where the load comes from the same machine, not what it buys on a dedicated one.
"""

import statistics
from collections.abc import Callable
from pathlib import Path

from bench import wrk
from bench.procs import Server
from bench.report import Measured, _f
from bench.scenarios import SCENARIOS, headers, probe, user_token

SCENARIO = "legacy_json"
CONNECTIONS = 64
WORKERS = (1, 2)

Start = Callable[[str, dict[str, str]], Server]


def measure(
    start: Start, mock: Server, workdir: Path, secret: str, *, rounds: int, seconds: int
) -> tuple[dict[str, list[Measured]], str]:
    """Rounds of `seconds` per worker count; the figures by label, or why none were taken."""
    scenario = next(s for s in SCENARIOS if s.key == SCENARIO)
    auth = headers(user_token(secret))
    servers: dict[str, Server] = {}
    found: dict[str, list[Measured]] = {}
    try:
        for n in WORKERS:
            label = f"{n} worker{'s' if n > 1 else ''}"
            servers[label] = start(label, {"WEB_CONCURRENCY": str(n), "LEDGER_ENABLED": "false"})
        for label, server in servers.items():
            answer = probe(f"{server.url}{scenario.path}", scenario.body, auth)
            if not answer.ok:
                return {}, f"{label}: probe answered {answer.status}"
            wrk.run(workdir, f"{server.url}{scenario.path}", scenario.body, auth,
                    connections=CONNECTIONS, seconds=1, servers={})  # fmt: skip
        labels = list(servers)
        for n in range(rounds):
            for label in labels[n % 2 :] + labels[: n % 2]:
                server = servers[label]
                load = wrk.run(
                    workdir, f"{server.url}{scenario.path}", scenario.body, auth,
                    connections=CONNECTIONS, seconds=seconds,
                    servers={"gateway": server.pids, "mock": mock.pids},
                )  # fmt: skip
                found.setdefault(label, []).append(Measured(load=load))
    except RuntimeError as err:
        return found, str(err)
    finally:
        for server in servers.values():
            server.stop()
    return found, ""


def table(found: dict[str, list[Measured]]) -> list[str]:
    lines = [
        f"Legacy chat JSON, {CONNECTIONS} connections, both gateways unpinned (the mock and wrk "
        "stay on their core).",
        "",
        "| workers | req/s | vs 1 worker | p50 / p99 ms | gateway CPU µs/req |",
        "|---|---|---|---|---|",
    ]
    base: float | None = None
    for label, measured in found.items():
        loads = [m.load for m in measured if m.load is not None]
        if not loads:
            continue
        rps = statistics.median(x.rps for x in loads)
        base = base or rps
        p50 = statistics.median(x.p50_ms for x in loads)
        p99 = statistics.median(x.p99_ms for x in loads)
        cpu = statistics.median(x.cpu_us["gateway"] for x in loads)
        shown = f"{_f(p50, 1)} / {_f(p99, 1)}"
        lines.append(f"| {label} | {_f(rps)} | {rps / base:.2f}× | {shown} | {_f(cpu)} |")
    rounds = max((len(v) for v in found.values()), default=0)
    lines += ["", f"Medians of {rounds} interleaved rounds."]
    return lines

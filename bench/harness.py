"""One run, side by side: the same requests straight to the mock, through nginx and through the
gateway (and LiteLLM when asked), then the sequential and the open-streams tests; writes the report.

    bench/run.sh [--quick] [--litellm bench/.venv-litellm]

The servers and the tests are documented in bench/README.md.
"""

import argparse
import asyncio
import datetime
import os
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench import instructions, render, stages, streams, workers, wrk
from bench.litellm import MASTER_KEY, start_litellm
from bench.machine import machine, versions
from bench.procs import (
    GATEWAY_POOL,
    LOAD_CORE,
    ROOT,
    Server,
    pin_self,
    start_gateway,
    start_mock_server,
    start_nginx,
)
from bench.report import Measured, Results, ScenarioResult
from bench.scenarios import KINDS, SCENARIOS, UPSTREAM_KEY, headers, probe, user_token

SECRET = "bench-jwt-secret-0123456789abcdef"
LEVELS = [1000, 2000, 5000]
# Slow on purpose: 10 tokens, one every 5 s, keeps each stream open 45 s while the ramp runs, and
# 5,000 streams send 1,000 events/s: the test is about holding streams, not relaying fast.
SLOW_MODEL = "mock/text?tokens=10&tpot_ms=5000"


@dataclass(frozen=True)
class Mode:
    warmup_s: int  # wrk takes whole seconds
    seconds: int
    connections: int
    sequential: int
    sequential_s: int
    levels: list[int]
    slow_model: str
    stage_rounds: int  # bench/stages.py
    stage_s: int


FULL = Mode(2, 6, 16, 1000, 4, LEVELS, SLOW_MODEL, 12, 1)
QUICK = Mode(1, 2, 16, 200, 2, [100, 300], "mock/text?tokens=5&tpot_ms=1000", 2, 1)


class Bench:
    def __init__(self, mode: Mode, workdir: Path, results: Results) -> None:
        self.mode, self.workdir, self.results = mode, workdir, results

    def load(
        self,
        url: str,
        body: bytes,
        auth: dict[str, str],
        servers: dict[str, Callable[[], list[int]]],
        *,
        sequential: bool = False,
    ) -> Measured:
        """Probe once, warm up, then measure; a refused probe marks the figure "not available"."""
        answer = probe(url, body, auth)
        if answer.status == 404:
            return Measured(skipped="not available (404)")
        if not answer.ok:
            return Measured(skipped=f"failed probe: {answer.status} {answer.detail}")
        m = self.mode
        conns = 1 if sequential else m.connections
        limit = m.sequential if sequential else None
        seconds = m.sequential_s if sequential else m.seconds
        try:
            if not sequential:
                wrk.run(
                    self.workdir, url, body, auth, connections=conns, seconds=m.warmup_s, servers={}
                )
            load = wrk.run(
                self.workdir, url, body, auth, connections=conns, seconds=seconds,
                servers=servers, limit=limit,
            )  # fmt: skip
        except RuntimeError as err:
            return Measured(skipped=f"wrk failed: {err}")
        return Measured(load=load, events=answer.events)


def _optional(name: str, start: Callable[[], Server], results: Results) -> Server | None:
    """A baseline that cannot start is skipped and said so, never faked."""
    try:
        return start()
    except RuntimeError as err:
        results.notes.append(f"{name} skipped: {err}")
        return None


def run(args: argparse.Namespace, results: Results) -> None:
    mode = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="ai-gateway-bench-") as tmp:
        workdir = Path(tmp)
        started: list[Server] = []
        try:
            mock = start_mock_server(args.seed)
            started.append(mock)
            targets = {"mock": mock}
            venv: Path | None = args.litellm
            starters: list[tuple[str, Callable[[], Server]]] = [
                ("nginx", lambda: start_nginx(workdir, mock))
            ]
            if venv is not None:
                starters.append(("litellm", lambda: start_litellm(workdir, venv, mock)))
            for name, start in starters:
                t0 = time.monotonic()
                server = _optional(name, start, results)
                if server is not None:
                    # Recorded at once, so an error further on still stops it.
                    started.append(server)
                    targets[name] = server
                    results.notes.append(f"{name} start-up took {time.monotonic() - t0:.1f} s.")
            if args.stage is None:
                gateway = start_gateway(workdir, mock, SECRET)
                started.append(gateway)
                wanted = ["mock", "nginx"] + (["litellm"] if venv is not None else [])
                bench = Bench(mode, workdir, results)
                measure_all(bench, targets, gateway, wanted)
                token = user_token(SECRET)
                found = streams.measure(gateway, token, mode.levels, mode.slow_model)
                results.streams, results.streams_skipped = found
                gateway.stop()
            if args.stage in (None, "workers"):
                results.workers, results.workers_skipped = workers.measure(
                    _variant_starter(workdir, mock, pin=False),
                    mock,
                    workdir,
                    SECRET,
                    rounds=mode.stage_rounds // 2,
                    seconds=2,
                )
            for stage in stages.STAGES:
                if args.stage is not None and stage.name != args.stage:
                    continue
                results.stages.append(
                    stages.measure(
                        stage,
                        _variant_starter(workdir, mock),
                        mock,
                        workdir,
                        SECRET,
                        rounds=mode.stage_rounds,
                        seconds=mode.stage_s,
                        connections=mode.connections,
                    )  # fmt: skip
                )
                if stage.counted and mode is not QUICK:
                    if instructions.available():
                        results.stages[-1].counted = instructions.count_stage(stage, workdir, mock)
                    else:
                        results.notes.append(
                            f"{stage.name}: not counted (valgrind is not installed)"
                        )
        finally:
            for server in reversed(started):
                server.stop()


def measure_all(
    bench: Bench, targets: dict[str, Server], gateway: Server, wanted: list[str]
) -> None:
    r = bench.results
    mock = targets["mock"]
    upstream = headers(UPSTREAM_KEY)
    prefix = {"mock": "/api/v1", "nginx": "/api/v1", "litellm": "/v1"}
    for kind in KINDS.values():
        row = r.baselines[kind.key] = {}
        for name in wanted:
            server = targets.get(name)
            if server is None:
                row[name] = Measured(skipped="not measured (see notes)")
                continue
            cpu = {"mock": mock.pids} | ({name: server.pids} if name != "mock" else {})
            url = f"{server.url}{prefix[name]}{kind.path}"
            key = headers(MASTER_KEY) if name == "litellm" else upstream
            row[name] = bench.load(url, kind.body, key, cpu)
    auth = headers(user_token(SECRET))
    for s in SCENARIOS:
        cpu = {"gateway": gateway.pids, "mock": mock.pids}
        m = bench.load(f"{gateway.url}{s.path}", s.body, auth, cpu)
        r.scenarios.append(ScenarioResult(s.key, s.label, s.kind.key, m))
    # Sequential: the legacy JSON request through the gateway, its upstream request elsewhere.
    legacy, chat = SCENARIOS[0], KINDS["chat"]
    for name in ("mock", "nginx", "gateway"):
        server = gateway if name == "gateway" else targets.get(name)
        if server is None:
            continue
        url, body, auth_for = (
            (f"{server.url}{legacy.path}", legacy.body, auth)
            if name == "gateway"
            else (f"{server.url}/api/v1{chat.path}", chat.body, upstream)
        )
        cpu = {name: server.pids}
        r.sequential[name] = bench.load(url, body, auth_for, cpu, sequential=True)


def _variant_starter(workdir: Path, mock: Server, *, pin: bool = True) -> stages.Start:
    def start(label: str, env: dict[str, str]) -> Server:
        if "DATABASE_URL" in env:
            _ensure_database(env["DATABASE_URL"])
        return start_gateway(workdir, mock, SECRET, env, label, pin=pin)

    return start


def _ensure_database(url: str) -> None:
    """Create the database `url` names (PostgreSQL), if it is not there yet."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.ext.asyncio import create_async_engine

    server, _, name = url.partition("://")[2].rpartition("/")

    async def create() -> None:
        engine = create_async_engine(
            f"postgresql+asyncpg://{server}/postgres", isolation_level="AUTOCOMMIT"
        )
        try:
            async with engine.connect() as connection:
                found = await connection.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                )
                if not found:
                    await connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()

    try:
        asyncio.run(create())
    except (OSError, SQLAlchemyError) as err:
        raise RuntimeError(f"PostgreSQL unavailable: {err}") from err


def config(mode: Mode, seed: int, nofile: int) -> dict[str, object]:
    return {
        "mock": f"python -m mock_openrouter --bench (precomputed bytes), seed {seed}",
        "gateway": "python -m app.cli, one process; LOG_LEVEL=warning, "
        f"UPSTREAM_MAX_CONNECTIONS={GATEWAY_POOL}, UPSTREAM_TRANSPORT="
        f"{os.environ.get('UPSTREAM_TRANSPORT', 'default (aiohttp)')}, no .env",
        "nginx": "worker_processes 1, proxy_pass to an upstream block with keepalive 64, "
        "HTTP/1.1 upstream, proxy_buffering off",
        "load": f"wrk -t1 -c{mode.connections}, {mode.warmup_s:g} s warm-up then "
        f"{mode.seconds:g} s measured per target and request",
        "sequential": f"wrk -t1 -c1, the first {mode.sequential} responses "
        f"(of at most {mode.sequential_s:g} s)",
        "open streams": f"levels {mode.levels}, model {mode.slow_model}, legacy stream route",
        "stages": f"each stage's processes at once, {mode.stage_rounds} interleaved rounds of "
        f"{mode.stage_s} s each per scenario, after a 1 s warm-up (bench/stages.py)",
        "open-file limit": nofile,
        "mode": "quick (development only)" if mode is QUICK else "full",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="short runs, small levels")
    parser.add_argument("--litellm", type=Path, help="LiteLLM's virtualenv (bench/litellm.sh)")
    parser.add_argument("--seed", type=int, default=0, help="the mock's seed")
    parser.add_argument(
        "--stage",
        choices=[stage.name for stage in stages.STAGES] + ["workers"],
        help="measure this stage's cost (or the workers' throughput) alone (development: "
        "written to results/stage/)",
    )
    args = parser.parse_args()
    # A SIGTERM must unwind like Ctrl-C, so the `finally` above stops every server it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not wrk.available():
        sys.exit("wrk is not installed and bench/run.sh could not install it: nothing measured")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it
    pin_self(LOAD_CORE)
    now = datetime.datetime.now(datetime.UTC)
    mode = QUICK if args.quick else FULL
    results = Results(
        started_utc=now.isoformat(timespec="seconds"),
        machine=machine(),
        versions=versions(args.litellm),
        config=config(mode, args.seed, hard),
    )
    t0 = time.monotonic()
    run(args, results)
    results.seconds = round(time.monotonic() - t0)
    out = ROOT / "bench" / "results" / ("stage" if args.stage else "quick" if args.quick else "")
    out.mkdir(parents=True, exist_ok=True)
    text = render.stages_markdown(results) if args.stage else render.markdown(results)
    data = orjson.dumps(results, option=orjson.OPT_INDENT_2)
    # A quick run is for development: it keeps no history beside its latest.md.
    names = ["latest"] if args.quick or args.stage else [now.strftime("%Y-%m-%dT%H%M%SZ"), "latest"]
    for name in names:
        (out / f"{name}.md").write_text(text)
        (out / f"{name}.json").write_bytes(data)
    written = " and ".join(str(out / f"{n}.md") for n in names)
    sys.stdout.write(text + f"\nwritten: {written} (+ .json)\n")


if __name__ == "__main__":
    main()

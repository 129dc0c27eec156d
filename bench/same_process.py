"""A stage's settings served by one gateway process, each app on its own port, loaded in turn:
what a setting costs without the few per cent two processes with the same settings differ by on
their own (bench/README.md, the noise floor).

    .venv/bin/python -m bench.same_process --stage quotas [--scenario v1_json] [--rounds 10]

The process makes the stage's "off" app first and again last, one app per setting between; the
two offs' difference is printed beside the costs, as this method's own noise. wrk (on the load
core) loads one app at a time for 2 s, in mirrored order from round to round, and the process's
CPU is read from /proc/<pid>/task/*/schedstat (nanoseconds) around each load. The apps share
what one process shares (the collector, the module caches). Not part of `bench/run.sh`: a check
of a stage's cost, like `bench.opcodes`; stages whose settings differ in their callers (RS256)
already run on one process there.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

import httpx
import uvicorn

from app.config import Settings
from app.main import create_app
from app.server import tune_gc, uvicorn_config
from bench import wrk
from bench.opcodes import environment
from bench.procs import LOAD_CORE, free_port, gateway_env, launch, pin_self, start_mock_server
from bench.profile import SECRET, _token, out
from bench.scenarios import SCENARIOS
from bench.stages import STAGES, Stage

ROUND_S = 2


def _settings_envs(stage: Stage) -> list[tuple[str, dict[str, str]]]:
    off_label, off_env = stage.off
    return [
        (off_label, off_env),
        *((label, env) for label, env in stage.on.items()),
        (f"{off_label} (again)", off_env),
    ]


def serve(mock_url: str, stage: Stage, ports: list[int], data_dir: Path) -> None:
    """The server process: one app per setting, every one on the same event loop."""
    servers = []
    for n, ((_, env), port) in enumerate(zip(_settings_envs(stage), ports, strict=True)):
        # A ledger's SQLite file per app.
        with environment({**gateway_env(mock_url, SECRET, data_dir / f"app-{n}"), **env}):
            settings = Settings()
            app = create_app(settings)
        servers.append(uvicorn.Server(uvicorn_config(app, settings, "127.0.0.1", port)))
    tune_gc()

    async def run() -> None:
        await asyncio.gather(*(server.serve() for server in servers))

    asyncio.run(run())


def _cpu_ns(pid: int) -> int:
    tasks = Path(f"/proc/{pid}/task")
    return sum(int((task / "schedstat").read_text().split()[0]) for task in tasks.iterdir())


def measure(args: argparse.Namespace, stage: Stage) -> None:
    labels = [label for label, _ in _settings_envs(stage)]
    scenario = next(s for s in SCENARIOS if s.key == args.scenario)
    headers = {"Authorization": f"Bearer {_token()}", "Content-Type": "application/json"}
    pin_self(LOAD_CORE)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        mock = start_mock_server(seed=0)
        ports = [free_port() for _ in labels]
        cmd = [sys.executable, "-m", "bench.same_process", "--stage", stage.name]
        cmd += ["--serve", mock.url, "--data-dir", tmp, *(f"--port={port}" for port in ports)]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        server = launch("gateway", cmd, ports[0], workdir / "gateway.log", "/healthz", env)
        try:
            for port in ports[1:]:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).raise_for_status()

            def load(port: int, seconds: int) -> float:
                """CPU µs per request of one load on the app at `port`."""
                before = _cpu_ns(server.pid)
                done = wrk.run(
                    workdir,
                    f"http://127.0.0.1:{port}{scenario.path}",
                    scenario.body,
                    headers,
                    connections=16,
                    seconds=seconds,
                    servers={},
                )
                assert done.errors == 0, f"{done.errors} errors on port {port}"
                return (_cpu_ns(server.pid) - before) / 1e3 / done.requests

            for port in ports:  # warm-up: connections, caches, the catalog's prices
                load(port, 1)
            costs: list[list[float]] = [[] for _ in ports]
            for round_ in range(args.rounds):
                order = range(len(ports)) if round_ % 2 == 0 else reversed(range(len(ports)))
                for n in order:
                    costs[n].append(load(ports[n], ROUND_S))
        finally:
            server.stop()
            mock.stop()
    medians = [statistics.median(c) for c in costs]
    off = (medians[0] + medians[-1]) / 2
    out(f"{stage.name}, {scenario.label}, one process, {args.rounds} rounds of {ROUND_S} s each")
    out(
        f"  {labels[0]}: {medians[0]:.1f} CPU µs per request; again: {medians[-1]:.1f} "
        f"({100 * (medians[-1] / medians[0] - 1):+.2f} %, this method's noise)"
    )
    for label, median in zip(labels[1:-1], medians[1:-1], strict=True):
        budget = stage.budget_pct.get(label)
        verdict = "" if budget is None else f" (budget ≤ {budget:g} %)"
        out(f"  {label}: {median:.1f} ({100 * (median / off - 1):+.2f} %){verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stage", required=True, choices=[s.name for s in STAGES])
    parser.add_argument("--scenario", default="v1_json", choices=[s.key for s in SCENARIOS])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--serve", metavar="MOCK_URL", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    stage = next(s for s in STAGES if s.name == args.stage)
    if stage.one_process or stage.tokens:
        parser.error(f"{stage.name}: its settings differ in their callers; bench/run.sh --stage")
    if args.serve:
        serve(args.serve, stage, args.port, args.data_dir)
    else:
        measure(args, stage)


if __name__ == "__main__":
    main()

"""What a stage adds to a request in Python bytecodes: the app called in-process against the real
mock, every bytecode it runs counted (`sys.settrace` opcode events), with a stage's setting off
and on.

    .venv/bin/python -m bench.opcodes --stage quotas [--setting "quotas on, in-process"]
        [--scenario legacy_json] [--requests 300] [--top 15]

It prints the bytecodes per request with the setting off and on, the difference as a share, and
the functions that differ most. The count does not move with the machine's load or clock (CPU
time on this shared 2-core VM did: the same loop took 155 or 250 ms from one minute to the next),
so a change to a stage's hot path is judged here in seconds, and `bench/run.sh --stage` gives the
CPU figure the budget is set in. Bytecodes are not CPU: the C underneath (orjson, httptools,
the sockets) is not counted, and uvicorn is not running (in the quotas stage, its writing of the
three X-RateLimit headers is ~130 more per request over the wire), and neither are the modules
setup.py compiles with mypyc (the quotas' per-call path): the report names them when they are.
"""

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from fastapi import FastAPI

from app import disconnect
from app.main import create_app
from bench.profile import SECRET, _settings, _token, out, run_batch
from bench.scenarios import SCENARIOS
from bench.stages import STAGES
from mock_openrouter.process import start_mock

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 200
# How much slower a traced call runs, at most (for the caller watcher's delay, in `_count`).
TRACED_SLOWDOWN = 100
Where = tuple[str, str]  # file, function


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _short(filename: str) -> str:
    for marker in ("/site-packages/", "/lib/python3.11/", f"{ROOT}/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


async def _count(
    app: FastAPI, state: dict[str, Any], args: argparse.Namespace, token: str
) -> Counter[Where]:
    scenario = next(s for s in SCENARIOS if s.key == args.scenario)
    counts: Counter[Where] = Counter()

    def tracer(frame: FrameType, event: str, _arg: object) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            code = frame.f_code
            counts[code.co_filename, code.co_name] += 1
        return tracer

    # Untraced first: connections, caches, the catalog's prices.
    await run_batch(app, state, scenario, token, WARM_UP)
    # Traced, a call runs tens of times slower: one that outlasts the caller watcher's delay gets
    # a task it never gets at full speed (app/disconnect.py), counted as if the stage made it.
    watch_after = disconnect.WATCH_AFTER_S
    disconnect.WATCH_AFTER_S = watch_after * TRACED_SLOWDOWN
    sys.settrace(tracer)
    try:
        await run_batch(app, state, scenario, token, args.requests)
    finally:
        sys.settrace(None)
        disconnect.WATCH_AFTER_S = watch_after
    return counts


def _measure(
    env: dict[str, str], args: argparse.Namespace, token: str, mock_url: str
) -> Counter[Where]:
    async def run() -> Counter[Where]:
        with environment(env):
            app = create_app(_settings(mock_url))
        async with app.router.lifespan_context(app) as state:
            return await _count(app, dict(state or {}), args, token)

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stage", required=True, choices=[s.name for s in STAGES])
    parser.add_argument("--setting", help="one of the stage's settings (default: its first)")
    parser.add_argument("--scenario", default="legacy_json", choices=[s.key for s in SCENARIOS])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    stage = next(s for s in STAGES if s.name == args.stage)
    label = args.setting or next(iter(stage.on))
    if label not in stage.on:
        parser.error(f"--setting: one of {', '.join(stage.on)}")
    off_label, off_env = stage.off
    on_env = {**off_env, **stage.on[label]} if stage.one_process else stage.on[label]
    make = stage.tokens.get(label)
    started = time.monotonic()
    with start_mock(seed=1, bench=True) as mock:
        off = _measure(off_env, args, _token(), mock.root_url)
        on = _measure(on_env, args, make(SECRET) if make else _token(), mock.root_url)
    n = args.requests
    total_off, total_on = sum(off.values()) / n, sum(on.values()) / n
    took = time.monotonic() - started
    out(f"{stage.name}, {args.scenario}, {n} requests in-process ({took:.0f} s)")
    out(f"  {off_label}: {total_off:,.0f} bytecodes per request")
    more, share = total_on - total_off, 100 * (total_on / total_off - 1)
    out(f"  {label}: {total_on:,.0f} ({more:+,.0f}, {share:+.2f} %)")
    compiled = sorted(
        name
        for name, module in sys.modules.items()
        if name.startswith("app.") and str(getattr(module, "__file__", "")).endswith(".so")
    )
    if compiled:
        out(f"  compiled with mypyc (their machine code not counted): {', '.join(compiled)}")
    out("  per request, by function (on - off, off):")
    differ = {where: (on[where] - off[where]) / n for where in off.keys() | on.keys()}
    for where, more in sorted(differ.items(), key=lambda kv: -abs(kv[1]))[: args.top]:
        out(f"  {more:+8.1f} {off[where] / n:8.1f}  {_short(where[0])} {where[1]}")


if __name__ == "__main__":
    main()

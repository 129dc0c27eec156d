"""Where the gateway's CPU and memory go: the app called in-process against the real mock.

    .venv/bin/python -m bench.profile cpu [--scenario legacy_stream] [--requests 3000] [--top 30]
    .venv/bin/python -m bench.profile mem [--streams 2000] [--batch 50] [--no-trace] [--uvloop]

`cpu` calls the ASGI app directly (no server, so no uvicorn cost) with 16 requests in flight,
against the mock in bench mode on a real socket, and prints CPU µs per request, then the same
run under cProfile sorted by own time. `mem` holds `--streams` slow legacy streams open through
the app (opened `--batch` at a time) and prints RSS per stream, which kind of mapping grew, and
what tracemalloc sees per stream by package and by allocation site (tracemalloc's own records
inflate RSS: `--no-trace` for the plain figure). These are the profiles behind bench/README.md;
`bench/run.sh` is what measures the budget.
"""

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any

import orjson
from fastapi import FastAPI
from jose import jwt
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from bench.scenarios import HI, SCENARIOS, UPSTREAM_KEY, Scenario
from mock_openrouter.process import start_mock

SECRET = "bench-profile-secret-0123456789"
SLOW = {"model": "mock/text?tokens=10&tpot_ms=5000", "messages": HI, "stream": True}
Message = MutableMapping[str, Any]
Work = Callable[[FastAPI, dict[str, Any]], Awaitable[None]]


def out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _settings(mock_url: str) -> Settings:
    return Settings(
        openrouter_api_key=SecretStr(UPSTREAM_KEY),
        openrouter_base_url=f"{mock_url}/api/v1",
        jwt_secret=SecretStr(SECRET),
        upstream_max_connections=8192,
    )


def _token() -> str:
    now = int(time.time())
    claims = {"sub": "u-1", "role": "authenticated", "iat": now, "exp": now + 3600}
    return str(jwt.encode(claims, SECRET, algorithm="HS256"))


def _scope(path: str, token: str, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": dict(state),
    }


async def _call(
    app: FastAPI, scope: dict[str, Any], body: bytes, on_body: Callable[[bytes], None]
) -> int:
    """One request through the app; returns the status. `receive` blocks after the body, as a
    server's does while the caller stays connected."""
    sent = False
    status = 0
    parked: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await parked
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            on_body(message.get("body", b""))

    await app(scope, receive, send)
    return status


async def _with_app(mock_url: str, work: Work) -> None:
    app = create_app(_settings(mock_url))
    async with app.router.lifespan_context(app) as state:
        await work(app, dict(state or {}))


async def run_batch(
    app: FastAPI, state: dict[str, Any], scenario: Scenario, token: str, n: int
) -> None:
    """`n` of the scenario's requests through the app, 16 in flight, each answered 200."""
    queue = iter(range(n))

    async def worker() -> None:
        for _ in queue:
            scope = _scope(scenario.path, token, state)
            status = await _call(app, scope, scenario.body, lambda _b: None)
            assert status == 200, status

    await asyncio.gather(*(worker() for _ in range(16)))


def cpu(args: argparse.Namespace, mock_url: str) -> Coroutine[Any, Any, None]:
    scenario = next(s for s in SCENARIOS if s.key == args.scenario)
    token = _token()

    async def work(app: FastAPI, state: dict[str, Any]) -> None:
        await run_batch(app, state, scenario, token, 200)  # warm-up: connections, caches
        start = time.process_time()
        await run_batch(app, state, scenario, token, args.requests)
        used = time.process_time() - start
        out(f"{scenario.label}: {used / args.requests * 1e6:.0f} CPU µs per request in-process")
        profiler = cProfile.Profile()
        profiler.enable()
        await run_batch(app, state, scenario, token, args.requests)
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(args.top)

    return _with_app(mock_url, work)


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def _mappings() -> dict[str, int]:
    """RSS in KB by kind of mapping: `[heap]` (glibc's brk heap: objects over 512 bytes),
    `[anon]` (pymalloc's arenas: the small objects), files."""
    found: dict[str, int] = defaultdict(int)
    name = ""
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and not fields[0].endswith(":"):
                name = fields[5] if len(fields) > 5 else "[anon]"
                name = "[files]" if name.startswith("/") else name
            elif fields[0] == "Rss:":
                found[name] += int(fields[1])
    return found


def _package(filename: str) -> str:
    parts = filename.split(os.sep)
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    for root in ("app", "bench", "asyncio"):
        if root in parts:
            return root
    return os.path.basename(filename)


def _report_heap(before: tracemalloc.Snapshot, args: argparse.Namespace) -> None:
    after = tracemalloc.take_snapshot()
    n = args.streams
    by_package: dict[str, int] = defaultdict(int)
    for stat in after.compare_to(before, "traceback"):
        by_package[_package(stat.traceback[-1].filename)] += stat.size_diff
    out(f"Python heap (tracemalloc): {sum(by_package.values()) / n:.0f} B per stream")
    for name, size in sorted(by_package.items(), key=lambda kv: -kv[1])[: args.top]:
        out(f"  {name:28} {size / n:8.0f} B")
    out("largest allocation sites, per stream:")
    for stat in after.compare_to(before, "lineno")[: args.top]:
        frame = stat.traceback[0]
        out(f"  {stat.size_diff / n:8.0f} B  {frame.filename}:{frame.lineno}")
    for stat in after.compare_to(before, "traceback")[: args.tracebacks]:
        out(f"{stat.size_diff / n:8.0f} B in {stat.count_diff / n:.1f} blocks, from:")
        for line in stat.traceback.format(limit=args.depth):
            out("    " + line)


def mem(args: argparse.Namespace, mock_url: str) -> Coroutine[Any, Any, None]:
    token = _token()
    body = orjson.dumps(SLOW)

    async def work(app: FastAPI, state: dict[str, Any]) -> None:
        first = asyncio.Semaphore(0)

        def on_body(chunk: bytes) -> None:
            if chunk.startswith(b"data: "):
                first.release()

        if args.trace:
            tracemalloc.start(args.depth)
        before = tracemalloc.take_snapshot() if args.trace else None
        rss_before, maps_before = _rss_kb(), _mappings()
        blocks_before = sys.getallocatedblocks()
        tasks = []
        for start in range(0, args.streams, args.batch):
            count = min(args.batch, args.streams - start)
            for _ in range(count):
                scope = _scope("/api/ai/chat/completion", token, state)
                tasks.append(asyncio.create_task(_call(app, scope, body, on_body)))
            for _ in range(count):
                await first.acquire()
        n = args.streams
        out(f"{n} streams held: RSS {(_rss_kb() - rss_before) / n:.1f} KB per stream")
        out(f"  {(sys.getallocatedblocks() - blocks_before) / n:.0f} more Python objects each")
        grown = _mappings()
        for name in ("[anon]", "[heap]"):
            out(f"  {name}: +{(grown[name] - maps_before.get(name, 0)) / n:.1f} KB per stream")
        if before is not None:
            _report_heap(before, args)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    return _with_app(mock_url, work)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("mode", choices=["cpu", "mem"])
    parser.add_argument("--scenario", default="legacy_json", choices=[s.key for s in SCENARIOS])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=50, help="streams opened at a time")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--tracebacks", type=int, default=0, help="show the N largest in full")
    parser.add_argument("--depth", type=int, default=8, help="frames kept by tracemalloc")
    parser.add_argument("--no-trace", dest="trace", action="store_false")
    parser.add_argument("--uvloop", action="store_true", help="the server's event loop")
    args = parser.parse_args()
    with start_mock(seed=1, bench=True) as mock:
        job = (cpu if args.mode == "cpu" else mem)(args, mock.root_url)
        if args.uvloop:
            import uvloop

            uvloop.run(job)
        else:
            asyncio.run(job)


if __name__ == "__main__":
    main()

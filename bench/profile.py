"""Where the gateway's CPU and memory go: the app called in-process against the real mock.

    .venv/bin/python -m bench.profile cpu [--scenario legacy_stream] [--requests 3000] [--top 30]
    .venv/bin/python -m bench.profile mem [--streams 1000] [--top 25]

`cpu` calls the ASGI app directly (no server, so no uvicorn cost) with 16 requests in flight,
against the mock in bench mode on a real socket, and prints CPU µs per request, then the same
run under cProfile sorted by own time. `mem` holds `--streams` slow legacy streams open through
the app and groups what tracemalloc sees by package, per stream. These are the profiles behind
bench/README.md; `bench/run.sh` is what measures the budget.
"""

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI
from jose import jwt

from app.config import Settings
from app.main import create_app
from bench.scenarios import SCENARIOS, UPSTREAM_KEY
from mock_openrouter.process import start_mock

SECRET = "bench-profile-secret-0123456789"
SLOW = {"model": "mock/text?tokens=10&tpot_ms=5000", "messages": [{"role": "user", "content": "Hi"}]}
Message = dict[str, Any]


def _settings(mock_url: str) -> Settings:
    return Settings(
        openrouter_api_key=UPSTREAM_KEY,
        openrouter_base_url=f"{mock_url}/api/v1",
        jwt_secret=SECRET,
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


async def _with_app(mock_url: str, work: Callable[[FastAPI, dict[str, Any]], Awaitable[None]]) -> None:
    app = create_app(_settings(mock_url))
    async with app.router.lifespan_context(app) as state:
        await work(app, dict(state or {}))


def cpu(args: argparse.Namespace, mock_url: str) -> None:
    scenario = next(s for s in SCENARIOS if s.key == args.scenario)
    token = _token()

    async def batch(app: FastAPI, state: dict[str, Any], n: int) -> None:
        queue = iter(range(n))

        async def worker() -> None:
            for _ in queue:
                status = await _call(
                    app, _scope(scenario.path, token, state), scenario.body, lambda _b: None
                )
                assert status == 200, status

        await asyncio.gather(*(worker() for _ in range(16)))

    async def work(app: FastAPI, state: dict[str, Any]) -> None:
        await batch(app, state, 200)  # warm-up: connections, caches
        start = time.process_time()
        await batch(app, state, args.requests)
        used = time.process_time() - start
        print(f"{scenario.label}: {used / args.requests * 1e6:.0f} CPU µs per request in-process")
        profiler = cProfile.Profile()
        profiler.enable()
        await batch(app, state, args.requests)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)

    run(args, _with_app(mock_url, work))


def _package(filename: str) -> str:
    parts = filename.split(os.sep)
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    for root in ("app", "asyncio", "json", "email", "http"):
        if root in parts:
            return root
    return "<" + os.path.basename(filename) + ">"


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def _types() -> "Counter[str]":
    """Objects the collector tracks, by type, and the objects they hold directly."""
    import gc

    gc.collect()
    seen: Counter[str] = Counter()
    for obj in gc.get_objects():
        seen[type(obj).__qualname__] += 1
        for ref in gc.get_referents(obj):
            if not gc.is_tracked(ref):
                seen["untracked " + type(ref).__qualname__] += 1
    return seen


def _mappings() -> dict[str, int]:
    """RSS in KB by kind of mapping: the brk heap (glibc), anonymous (pymalloc arenas, big
    mallocs, thread stacks), files."""
    out: dict[str, int] = defaultdict(int)
    name = ""
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            first = line.split()[0]
            if "-" in first and not first.endswith(":"):
                fields = line.split()
                name = fields[5] if len(fields) > 5 else "[anon]"
                if name.startswith("/"):
                    name = "[files]"
            elif first == "Rss:":
                out[name] += int(line.split()[1])
    return out


def mem(args: argparse.Namespace, mock_url: str) -> None:
    token = _token()
    body = orjson.dumps({**SLOW, "stream": True})

    async def work(app: FastAPI, state: dict[str, Any]) -> None:
        first = asyncio.Semaphore(0)
        tasks = []

        def on_body(chunk: bytes) -> None:
            if chunk.startswith(b"data: "):
                first.release()

        if args.trace:
            tracemalloc.start(25)
        before = tracemalloc.take_snapshot() if args.trace else None
        rss_before = _rss_kb()
        blocks_before = sys.getallocatedblocks()
        types_before = _types() if args.types else None
        maps_before = _mappings()
        for start in range(0, args.streams, args.batch):
            count = min(args.batch, args.streams - start)
            for _ in range(count):
                scope = _scope("/api/ai/chat/completion", token, state)
                tasks.append(asyncio.create_task(_call(app, scope, body, on_body)))
            for _ in range(count):
                await first.acquire()
        rss = (_rss_kb() - rss_before) / args.streams
        print(f"{args.streams} streams held: RSS {rss:.1f} KB each (tracemalloc {args.trace})")
        blocks = (sys.getallocatedblocks() - blocks_before) / args.streams
        print(f"  {blocks:.0f} more allocated blocks per stream")
        if args.trace:
            current, peak = tracemalloc.get_traced_memory()
            print(f"traced now {current / args.streams:.0f} B, peak {peak / args.streams:.0f} B per stream")
        grown = _mappings()
        for name in sorted(grown, key=lambda n: maps_before.get(n, 0) - grown[n])[:6]:
            delta = grown[name] - maps_before.get(name, 0)
            print(f"  mapping {name}: +{delta / args.streams:.1f} KB per stream")
        if types_before is not None:
            diff = _types() - types_before
            for name, count in diff.most_common(args.types):
                print(f"  {count / args.streams:8.1f} per stream  {name}")
        if args.mallocstats:
            sys._debugmallocstats()
        if args.trim:
            import ctypes
            import gc

            gc.collect()
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            trimmed = (_rss_kb() - rss_before) / args.streams
            print(f"after gc.collect() and malloc_trim(0): RSS {trimmed:.1f} KB each")
        if before is None:
            return
        after = tracemalloc.take_snapshot()
        by_package: dict[str, int] = defaultdict(int)
        for stat in after.compare_to(before, "traceback"):
            by_package[_package(stat.traceback[-1].filename)] += stat.size_diff
        total = sum(by_package.values())
        print(f"{args.streams} streams held: {total / args.streams:.0f} B of Python heap each")
        for name, size in sorted(by_package.items(), key=lambda kv: -kv[1])[: args.top]:
            print(f"  {name:28} {size / args.streams:8.0f} B")
        print("largest allocation sites (per stream):")
        for stat in after.compare_to(before, "lineno")[: args.top]:
            frame = stat.traceback[0]
            print(f"  {stat.size_diff / args.streams:8.0f} B  {frame.filename}:{frame.lineno}")
        for stat in after.compare_to(before, "traceback")[: args.tracebacks]:
            print(f"{stat.size_diff / args.streams:8.0f} B in {stat.count_diff / args.streams:.1f} blocks")
            for line in stat.traceback.format(limit=args.depth):
                print("    " + line)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    run(args, _with_app(mock_url, work))


def run(args: argparse.Namespace, main: Awaitable[None]) -> None:
    if args.uvloop:
        import uvloop

        uvloop.run(main)  # type: ignore[arg-type]
    else:
        asyncio.run(main)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["cpu", "mem"])
    parser.add_argument("--scenario", default="legacy_json", choices=[s.key for s in SCENARIOS])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--batch", type=int, default=1_000_000, help="open this many at a time")
    parser.add_argument("--tracebacks", type=int, default=0, help="show the N largest in full")
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--types", type=int, default=0, help="the N commonest new object types")
    parser.add_argument("--mallocstats", action="store_true", help="pymalloc's own figures")
    parser.add_argument("--trim", action="store_true", help="also RSS after malloc_trim")
    parser.add_argument("--no-trace", dest="trace", action="store_false")
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    with start_mock(seed=1, bench=True) as mock:
        (cpu if args.mode == "cpu" else mem)(args, mock.root_url)


if __name__ == "__main__":
    main()

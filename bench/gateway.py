"""The gateway's own cost, measured beside the same requests sent straight to the mock.

One command: `.venv/bin/python bench/gateway.py [--requests 2000] [--concurrency 16]`.
It starts the mock OpenRouter in benchmark mode (precomputed bytes) and the gateway with one
worker, pins the gateway to core 0 and the mock and this load generator to core 1 where the OS
allows, then runs each scenario twice: straight to the mock, and through the gateway. CPU per
request is read from each server process's own accounting (/proc/<pid>/stat), which stays
stable on a noisy machine where wall-clock figures do not.

Writes bench/results/gateway.md.
"""

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import orjson
from jose import jwt

from mock_openrouter.process import MockProcess, start_mock

ROOT = Path(__file__).parent.parent
RESULTS = Path(__file__).parent / "results" / "gateway.md"
SECRET = "bench-jwt-secret-0123456789"
TICK_S = 1 / os.sysconf("SC_CLK_TCK")
HI = [{"role": "user", "content": "Hi"}]


@dataclass
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


def pin(pid: int, core: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(pid, {core})


async def load(
    url: str, body: bytes, headers: dict[str, str], requests: int, concurrency: int, pid: int
) -> Figures:
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            start = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as resp:
                assert resp.status == 200, resp.status
                async for _ in resp.content.iter_any():
                    pass
            latencies.append(time.perf_counter() - start)

        for _ in range(200):  # warm-up: connections, caches, JIT-free but allocator-warm
            await one()
        latencies.clear()
        left = requests

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await one()

        cpu0, wall0 = cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - wall0, cpu_seconds(pid) - cpu0
    latencies.sort()
    return Figures(
        rps=requests / wall,
        p50_ms=statistics.median(latencies) * 1e3,
        p99_ms=latencies[int(len(latencies) * 0.99) - 1] * 1e3,
        cpu_us=cpu / requests * 1e6,
    )


def start_gateway(mock: MockProcess, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OPENROUTER_API_KEY": "sk-or-bench",
        "OPENROUTER_BASE_URL": mock.base_url,
        "JWT_SECRET": SECRET,
        "LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--port", str(port)], env=env, cwd=ROOT
    )
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
            return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("gateway did not start")


async def run(args: argparse.Namespace) -> list[tuple[str, Figures, Figures]]:
    token = jwt.encode({"sub": "bench", "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")
    rows = []
    with start_mock(bench=True) as mock:
        gateway = start_gateway(mock, args.port)
        try:
            pin(gateway.pid, 0)
            pin(mock.proc.pid, 1)
            pin(os.getpid(), 1)
            auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            plain = {"Authorization": "Bearer sk-or-bench", "Content-Type": "application/json"}
            for label, stream in (
                ("legacy chat JSON", False),
                ("legacy chat stream, 20 chunks", True),
            ):
                upstream = orjson.dumps({"model": "mock/text", "messages": HI, "stream": stream})
                legacy = orjson.dumps({"model": "mock/text", "messages": HI, "stream": stream})
                direct = await load(
                    f"{mock.base_url}/chat/completions",
                    upstream,
                    plain,
                    args.requests,
                    args.concurrency,
                    mock.proc.pid,
                )
                through = await load(
                    f"http://127.0.0.1:{args.port}/api/ai/chat/completion",
                    legacy,
                    auth,
                    args.requests,
                    args.concurrency,
                    gateway.pid,
                )
                rows.append((label, direct, through))
        finally:
            gateway.terminate()
            gateway.wait(10)
    return rows


def report(rows: list[tuple[str, Figures, Figures]], args: argparse.Namespace) -> str:
    lines = [
        "# Gateway overhead beside the mock",
        "",
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores; "
        f"{args.requests} requests per run, {args.concurrency} concurrent; gateway pinned to "
        "core 0, mock (bench mode) and load generator to core 1. CPU is each server's own "
        "process time.",
        "",
        "| scenario | mock CPU µs/req | gateway CPU µs/req | gateway/mock | mock req/s "
        "| gateway req/s | mock p50/p99 ms | gateway p50/p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, d, g in rows:
        lines.append(
            f"| {label} | {d.cpu_us:.0f} | {g.cpu_us:.0f} | {g.cpu_us / d.cpu_us:.1f}× "
            f"| {d.rps:.0f} | {g.rps:.0f} | {d.p50_ms:.2f}/{d.p99_ms:.2f} "
            f"| {g.p50_ms:.2f}/{g.p99_ms:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--port", type=int, default=18777)
    args = parser.parse_args()
    text = report(asyncio.run(run(args)), args)
    RESULTS.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()

"""Which httpx transport costs less CPU per upstream request: httpx's own, or httpx-aiohttp's?

The gateway's upstream client is built by `app.upstream.client.build_client`; only the transport
differs. Each transport runs in its own child process (so neither warms the other's caches)
against the mock OpenRouter in benchmark mode, and reports the CPU time its process spent per
request, from `time.process_time()` — stable on a noisy machine, unlike wall time.

    .venv/bin/python bench/transport.py [--requests 3000] [--concurrency 16]

Writes bench/results/transport.md and prints the same table.
"""

import argparse
import asyncio
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.config import Settings
from app.upstream.client import build_client
from mock_openrouter.process import start_mock

RESULTS = Path(__file__).parent / "results" / "transport.md"
WARMUP = 300
CHAT = {"model": "mock/text", "messages": [{"role": "user", "content": "Hi"}], "stream": False}
STREAM = {"model": "mock/text?tokens=20", "messages": [{"role": "user", "content": "Hi"}]}


async def _one(client: httpx.AsyncClient, stream: bool) -> None:
    if not stream:
        resp = await client.post("chat/completions", json=CHAT)
        assert resp.status_code == 200, resp.status_code
        return
    async with client.stream("POST", "chat/completions", json={**STREAM, "stream": True}) as resp:
        assert resp.status_code == 200, resp.status_code
        async for _ in resp.aiter_bytes():
            pass


async def _drive(
    base_url: str, transport: str, requests: int, concurrency: int, stream: bool
) -> dict[str, float]:
    settings = Settings.model_validate(
        {
            "openrouter_api_key": "sk-or-bench",
            "jwt_secret": "bench-secret",
            "openrouter_base_url": base_url,
            "upstream_transport": transport,
        }
    )
    async with build_client(settings) as client:
        for _ in range(WARMUP):
            await _one(client, stream)
        left = requests

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await _one(client, stream)

        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"cpu_us": cpu / requests * 1e6, "rps": requests / wall}


def _child(args: argparse.Namespace) -> None:
    import uvloop

    result = uvloop.run(_drive(args.url, args.child, args.requests, args.concurrency, args.stream))
    sys.stdout.write(json.dumps(result) + "\n")


def _measure(url: str, transport: str, args: argparse.Namespace, stream: bool) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", transport, "--url", url]
    cmd += ["--requests", str(args.requests), "--concurrency", str(args.concurrency)]
    if stream:
        cmd.append("--stream")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--child", choices=["httpx", "aiohttp"])
    parser.add_argument("--url")
    parser.add_argument("--stream", action="store_true")
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    rows = []
    with start_mock(bench=True) as mock:
        for label, stream in (("JSON request", False), ("20-chunk stream", True)):
            figures = {t: _measure(mock.base_url, t, args, stream) for t in ("httpx", "aiohttp")}
            rows.append((label, figures))
    lines = [
        "# Upstream transport: CPU per request (client process only)",
        "",
        f"{platform.python_version()} on {platform.machine()}, httpx {httpx.__version__}, "
        f"{args.requests} requests, {args.concurrency} concurrent, mock in bench mode.",
        "",
        "| scenario | httpx default µs | httpx-aiohttp µs | ratio | req/s httpx | req/s aiohttp |",
        "|---|---|---|---|---|---|",
    ]
    for label, f in rows:
        h, a = f["httpx"], f["aiohttp"]
        lines.append(
            f"| {label} | {h['cpu_us']:.0f} | {a['cpu_us']:.0f} | {h['cpu_us'] / a['cpu_us']:.2f}× "
            f"| {h['rps']:.0f} | {a['rps']:.0f} |"
        )
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()

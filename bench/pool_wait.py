"""Many callers, a healthy but slow upstream: what do calls that only waited for a free upstream
connection get?

    python -m bench.pool_wait [--connections 2000] [--seconds 20] [--ttft-ms 2000] [--app-root DIR]

Starts the mock (bench mode) and one gateway on its defaults (512 upstream connections), then
holds `--connections` client connections, each sending legacy chat calls whose answer takes
`--ttft-ms`, back to back, for `--seconds`. Prints the status counts, how many 503s carried
`Retry-After`, latency percentiles, and how many upstream connections stay open (idle) once the
burst is over (UPSTREAM_MAX_KEEPALIVE, 128 by default, bounds them). `--app-root` runs the
gateway from another checkout (for a before/after comparison; `git worktree add /tmp/old
<commit>`). Gateway settings can be passed through the environment (UPSTREAM_POOL_TIMEOUT_S=3).
"""

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
import orjson
from jose import jwt

from bench.procs import ROOT, free_port, launch, start_mock_server

SECRET = "bench-pool-wait-secret-0123456789"


def _token() -> str:
    claims = {"sub": "bench", "role": "authenticated", "exp": int(time.time()) + 3600}
    return jwt.encode(claims, SECRET, algorithm="HS256")


async def _load(url: str, connections: int, seconds: float, ttft_ms: int) -> dict[str, object]:
    body = orjson.dumps(
        {"model": f"mock/text?ttft_ms={ttft_ms}", "messages": [{"role": "user", "content": "Hi"}]}
    )
    headers = {"Authorization": f"Bearer {_token()}", "Content-Type": "application/json"}
    statuses: Counter[str] = Counter()
    retry_after = 0
    latencies: list[float] = []
    end = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=120)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def caller() -> None:
            nonlocal retry_after
            while time.monotonic() < end:
                started = time.monotonic()
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        await resp.read()
                        statuses[str(resp.status)] += 1
                        retry_after += resp.status == 503 and "Retry-After" in resp.headers
                except aiohttp.ClientError as err:
                    statuses[type(err).__name__] += 1
                latencies.append(time.monotonic() - started)

        await asyncio.gather(*(caller() for _ in range(connections)))
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2)

    return {
        "calls": len(latencies),
        "statuses": dict(statuses),
        "503_with_retry_after": retry_after,
        "latency_s": {"p50": pct(0.5), "p99": pct(0.99), "max": round(latencies[-1], 2)},
    }


def _connections_to(url: str) -> int:
    """Established TCP connections to the port of `url` on this machine (/proc/net/tcp)."""
    port = f"{int(url.rsplit(':', 1)[1].split('/')[0]):04X}"
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[2].endswith(":" + port) and fields[3] == "01":
                count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--ttft-ms", type=int, default=2000)
    parser.add_argument("--app-root", type=Path, default=ROOT)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it
    mock = start_mock_server(seed=1)
    try:
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(args.app_root),
            "OPENROUTER_API_KEY": "sk-or-bench-0123456789",
            "OPENROUTER_BASE_URL": f"{mock.url}/api/v1",
            "JWT_SECRET": SECRET,
            "LOG_LEVEL": "warning",
        }
        cmd = [sys.executable, "-m", "app.cli", "--host", "127.0.0.1", "--port", str(port)]
        with tempfile.TemporaryDirectory() as tmp:
            os.chdir(args.app_root)
            gateway = launch("gateway", cmd, port, Path(tmp) / "gateway.log", "/healthz", env)
            try:
                url = f"{gateway.url}/api/ai/chat/completion"
                result = asyncio.run(_load(url, args.connections, args.seconds, args.ttft_ms))
                time.sleep(1.0)  # every call has ended: what stays open is the idle pool
                result["idle_upstream_connections_after"] = _connections_to(mock.url)
            finally:
                gateway.stop()
    finally:
        mock.stop()
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")


if __name__ == "__main__":
    main()

"""A liveness probe under 2,000 connections: how long does `/healthz` take on a new connection?

    python -m bench.accept [--connections 2000] [--seconds 15] [--model M] [--probe-s 0.5]

Starts the mock (bench mode) and one gateway process, holds `--connections` client connections
streaming legacy chat calls back to back (`--model`, by default 100 tokens 20 ms apart), and
meanwhile, from a thread of its own, opens a new connection every `--probe-s` seconds for one
`GET /healthz`, as a Kubernetes liveness probe does. Prints the probes' latencies (connect to
answer) and the streams' throughput. Gateway settings are passed through the environment
(`EVENT_LOOP=asyncio`, `WEB_CONCURRENCY=2`); `--health-port` probes HEALTH_PORT (app/liveness.py)
instead of the main port.
"""

import argparse
import asyncio
import resource
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import orjson

from bench.pool_wait import SECRET, _token
from bench.procs import free_port, start_gateway, start_mock_server


async def _load(url: str, connections: int, seconds: float, model: str) -> dict[str, object]:
    body = orjson.dumps(
        {"model": model, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    )
    headers = {"Authorization": f"Bearer {_token()}", "Content-Type": "application/json"}
    calls = failures = 0
    end = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def caller() -> None:
            nonlocal calls, failures
            while time.monotonic() < end:
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        await resp.read()
                        calls += resp.status == 200
                        failures += resp.status != 200
                except aiohttp.ClientError:
                    failures += 1

        await asyncio.gather(*(caller() for _ in range(connections)))
    return {"streams": calls, "failures": failures}


def _probe(port: int, timeout_s: float) -> float:
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
            if not sock.recv(64).startswith(b"HTTP/1.1 200"):
                return float("inf")
    except OSError:
        return float("inf")
    return time.monotonic() - started


def _probes(port: int, every_s: float, until: float, found: list[float]) -> None:
    while time.monotonic() < until:
        found.append(_probe(port, timeout_s=60.0))
        time.sleep(every_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--model", default="mock/text?tokens=100&tpot_ms=20")
    parser.add_argument("--probe-s", type=float, default=0.5)
    parser.add_argument("--health-port", action="store_true", help="probe HEALTH_PORT")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it
    mock = start_mock_server(seed=1)
    try:
        health = free_port() if args.health_port else None
        env = {
            "LEDGER_ENABLED": "false",
            # As many upstream connections as callers: the probe, not the pool, is measured.
            "UPSTREAM_MAX_CONNECTIONS": str(args.connections + 64),
            **({"HEALTH_PORT": str(health)} if health is not None else {}),
        }
        with tempfile.TemporaryDirectory() as tmp:
            gateway = start_gateway(Path(tmp), mock, SECRET, env)
            probed = gateway.process.port if health is None else health
            try:
                probes: list[float] = []
                # Probing starts once the callers have had a second to connect.
                until = time.monotonic() + args.seconds
                prober = threading.Timer(1.0, _probes, (probed, args.probe_s, until, probes))
                prober.start()
                url = f"{gateway.url}/api/ai/chat/completion"
                result = asyncio.run(_load(url, args.connections, args.seconds, args.model))
                prober.join()
            finally:
                gateway.stop()
    finally:
        mock.stop()
    probes.sort()
    result["streams_per_s"] = round(int(str(result["streams"])) / args.seconds, 1)
    result["healthz_new_connection_s"] = {
        "probes": len(probes),
        "p50": round(probes[len(probes) // 2], 3),
        "max": round(probes[-1], 3),
        "over_1s": sum(p > 1.0 for p in probes),
    }
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")


if __name__ == "__main__":
    main()

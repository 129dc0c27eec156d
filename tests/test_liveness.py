"""HEALTH_PORT: `/healthz` answered from a thread of its own (app/liveness.py), 503 once the
event loop has stopped turning; and with `--workers 2`, every worker on the one port."""

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from app.liveness import LivenessListener
from mock_openrouter.process import MockProcess, ServerProcess, free_port
from tests.procs import OWN_PREFIXES, READY_TIMEOUT_S, ROOT, gateway_env


async def test_answers_while_the_loop_turns_and_503_once_it_stalls() -> None:
    listener = LivenessListener("127.0.0.1", 0, stall_s=0.5)
    listener.start(asyncio.get_running_loop())
    url = f"http://127.0.0.1:{listener.port}"

    def get(path: str) -> httpx.Response:
        return httpx.get(url + path, timeout=2)

    ok = await asyncio.to_thread(get, "/healthz")
    assert (ok.status_code, ok.json()) == (200, {"status": "ok"})
    assert (await asyncio.to_thread(get, "/metrics")).status_code == 404
    # A blocking call holds the event loop (this test's own) past the stall bound; the
    # listener's thread still answers, and says so.
    time.sleep(1.0)  # noqa: ASYNC251 (the stall under test)
    stalled = get("/healthz")
    assert (stalled.status_code, stalled.json()) == (503, {"status": "event loop stalled"})
    await asyncio.sleep(1.5)  # turning again: the next heartbeat clears it
    assert (await asyncio.to_thread(get, "/healthz")).status_code == 200


def test_every_worker_serves_the_health_port(mock: MockProcess) -> None:
    port, health = free_port(), free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES)}
    with ServerProcess(
        "ai-gateway --workers 2",
        [sys.executable, "-m", "app.cli", "--port", str(port), "--workers", "2"],
        port=port,
        ready_path="/healthz",
        env={**inherited, **gateway_env(mock.base_url, HEALTH_PORT=str(health))},
        cwd=ROOT,
        log=Path(f"/tmp/ai-gateway-test-{port}.log"),
        startup_timeout=READY_TIMEOUT_S,
    ) as gateway:
        for _ in range(10):
            resp = httpx.get(f"http://127.0.0.1:{health}/healthz", timeout=2)
            assert resp.status_code == 200
        assert gateway.stop() == 0
    assert "Traceback" not in gateway.logs()


def test_a_new_connection_is_answered_within_a_second_under_2000_streams() -> None:
    """The issue's 2,000-connection case, through the benchmark's own tool (bench/accept.py):
    2,000 callers streaming on one process while a probe opens a new connection for /healthz
    on HEALTH_PORT every half second."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.accept", "--connections", "2000", "--seconds", "6"]
        + ["--health-port"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = orjson.loads(done.stdout)
    probes = result["healthz_new_connection_s"]
    assert probes["probes"] >= 8
    assert probes["over_1s"] == 0, probes
    assert probes["max"] < 1.0
    assert result["streams"] > 0

"""HEALTH_PORT: `/healthz` answered from a thread of its own (app/liveness.py), 503 once the
event loop has stopped turning; and with `--workers 2`, every worker on the one port."""

import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

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

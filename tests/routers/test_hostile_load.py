"""One hostile or huge request does not stall everyone else: while it runs, `/healthz` on a new
connection answers within a second (issue 10, item 6, in its load form)."""

import base64
import threading
import time
from collections.abc import Callable

import httpx
import orjson

from tests.factories import make_token
from tests.procs import GatewayProcess

PATH = "/api/ai/chat/completion"


def probe_while(gateway: GatewayProcess, work: Callable[[], httpx.Response]) -> list[float]:
    """Run `work` in a thread; meanwhile time `/healthz`, each on a new connection."""
    result: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    waits: list[float] = []
    while thread.is_alive() or not waits:
        started = time.perf_counter()
        resp = httpx.get(f"{gateway.url}/healthz", timeout=5)
        waits.append(time.perf_counter() - started)
        assert resp.status_code == 200
        time.sleep(0.02)
    thread.join()
    assert len(result) == 1
    assert result[0].status_code in (200, 400), result[0].text[:200]
    return waits


def post(gateway: GatewayProcess, body: bytes) -> Callable[[], httpx.Response]:
    headers = {"Authorization": f"Bearer {make_token()}", "Content-Type": "application/json"}
    return lambda: httpx.post(f"{gateway.url}{PATH}", content=body, headers=headers, timeout=30)


def test_a_million_item_array_does_not_stall_the_gateway(gateway: GatewayProcess) -> None:
    for field in ("messages", "tools"):
        hostile = orjson.dumps({"model": "mock/text", "messages": [1] * 1_000_000, field: [1]})
        waits = probe_while(gateway, post(gateway, hostile))
        assert max(waits) < 1.0, waits


def test_a_20_mb_body_does_not_stall_the_gateway(gateway: GatewayProcess) -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 14_000_000).decode()
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}
    text = {"type": "text", "text": "Hi " * 300_000}
    body = {"model": "mock/text", "messages": [{"role": "user", "content": [text, image]}]}
    raw = orjson.dumps(body)
    assert 19_000_000 < len(raw) < 20 * 1024 * 1024
    waits = probe_while(gateway, post(gateway, raw))
    assert max(waits) < 1.0, waits

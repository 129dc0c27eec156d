"""`ai-gateway --workers N`: real processes on one shared port, against the mock upstream.

Which worker served a connection is read from the kernel, not from anything the gateway says:
each worker's open sockets (/proc/<pid>/fd) matched against the established connections on the
gateway's port (/proc/net/tcp).
"""

import os
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from app.supervisor import STARTUP_S
from mock_openrouter.process import MockProcess, ServerProcess, free_port
from tests.factories import API_KEY, JWT_SECRET, UPSTREAM_KEY, make_token
from tests.procs import OWN_PREFIXES, READY_TIMEOUT_S, ROOT, gateway_env

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
GRACE_S = 2.0
STREAM = orjson.dumps(
    {
        "model": "mock/text?tokens=200&tpot_ms=100",
        "stream": True,
        "messages": [{"role": "user", "content": "Hi"}],
    }
)
SHUTTING_DOWN = (
    b'{"error":true,"message":"Failed to stream response: the gateway is shutting down;'
    b' please retry"}'
)


def start_workers(
    mock: MockProcess, *args: str, own_process_group: bool = False, **env: str
) -> ServerProcess:
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES)}
    return ServerProcess(
        "ai-gateway --workers",
        [sys.executable, "-m", "app.cli", "--port", str(port), *args],
        port=port,
        ready_path="/healthz",
        env={**inherited, **gateway_env(mock.base_url, **env)},
        cwd=ROOT,
        log=Path(f"/tmp/ai-gateway-test-{port}.log"),
        startup_timeout=READY_TIMEOUT_S,
        stop_timeout=GRACE_S + 10,
        own_process_group=own_process_group,
    )


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, NotADirectoryError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def connections_held(pid: int, port: int) -> int:
    """Established connections on `port` whose socket the process `pid` holds."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == "01":
                inodes.add(fields[9])
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        held += target.startswith("socket:[") and target[8:-1] in inodes
    return held


def healthz_on_a_new_connection(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    return sock


@pytest.fixture
def held() -> Iterator[list[socket.socket]]:
    socks: list[socket.socket] = []
    yield socks
    for sock in socks:
        sock.close()


def test_web_concurrency_starts_workers_that_all_serve(
    mock: MockProcess, held: list[socket.socket]
) -> None:
    with start_workers(mock, WEB_CONCURRENCY="2") as gateway:
        workers = children(gateway.pid)
        assert len(workers) == 2
        # Ready once one worker answers /healthz; the other may still be starting (CI saw all
        # of 40 quick connections go to the first). Every worker must take some within 10 s.
        deadline = time.monotonic() + 10
        served = [0, 0]
        while min(served) == 0:
            assert time.monotonic() < deadline, f"one worker served all {len(held)}: {served}"
            held.append(healthz_on_a_new_connection(gateway.port))
            time.sleep(0.02)
            served = [connections_held(pid, gateway.port) for pid in workers]
        assert sum(served) == len(held)


def test_the_flag_wins_over_web_concurrency(mock: MockProcess) -> None:
    with start_workers(mock, "--workers", "3", WEB_CONCURRENCY="2") as gateway:
        assert len(children(gateway.pid)) == 3


def open_stream(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (
        f"POST /api/ai/chat/completion HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {make_token()}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(STREAM)}\r\n\r\n"
    )
    sock.sendall(head.encode() + STREAM)
    received = b""
    while b'{"chunk"' not in received:
        received += sock.recv(65536)
    return sock


def read_to_end(sock: socket.socket) -> bytes:
    received = b""
    while not received.endswith(b"0\r\n\r\n"):
        piece = sock.recv(65536)
        if not piece:
            break
        received += piece
    return received


def test_sigterm_gives_every_open_stream_its_final_event_and_exits_0(
    mock: MockProcess, held: list[socket.socket]
) -> None:
    with start_workers(mock, "--workers", "2", SHUTDOWN_GRACE_S=str(GRACE_S)) as gateway:
        workers = children(gateway.pid)
        # Streams of 200 tokens at 100 ms each: all of them still run at the signal. Which worker
        # accepts a connection is the kernel's choice: open streams until both hold some.
        held += [open_stream(gateway.port) for _ in range(4)]
        # On a loaded machine one worker may win many accepts in a row (a full local run saw
        # 16): a pause between connections lets the other one reach accept() too.
        while not all(connections_held(pid, gateway.port) for pid in workers):
            assert len(held) < 64, "one worker accepted every stream"
            time.sleep(0.05)
            held.append(open_stream(gateway.port))
        signalled = time.monotonic()
        gateway.proc.send_signal(signal.SIGTERM)
        endings = []
        for sock in held:
            text = read_to_end(sock)
            endings.append(time.monotonic() - signalled)
            assert SHUTTING_DOWN in text, text[-300:]
            assert b'{"done":true}' not in text
        assert gateway.proc.wait(timeout=GRACE_S + 10) == 0
        stopped = time.monotonic() - signalled
        assert max(endings) < GRACE_S + 1.5, endings
        assert stopped < GRACE_S + 5, stopped
        assert children(gateway.pid) == []
        assert "Traceback" not in gateway.logs()


def test_every_worker_migrates_and_records_in_one_ledger(mock: MockProcess, tmp_path: Path) -> None:
    # A fresh SQLite ledger: both workers migrate it at once at start-up, then write to it.
    body = {"model": "mock/text", "messages": [{"role": "user", "content": "Hi"}]}
    with start_workers(
        mock, "--workers", "2", LEDGER_ENABLED="true", DATA_DIR=str(tmp_path), LEDGER_FLUSH_S="0.1"
    ) as gateway:
        with httpx.Client(base_url=gateway.url, timeout=10) as client:
            for _ in range(30):
                # A new connection each time, so the kernel may hand it to either worker.
                resp = client.post(
                    "/api/ai/chat/completion",
                    json=body,
                    headers={"Authorization": f"Bearer {make_token()}", "Connection": "close"},
                )
                assert resp.status_code == 200, resp.text
        # Stopping flushes each worker's queue.
        assert gateway.stop() == 0
        assert "Traceback" not in gateway.logs()
        assert "ERROR" not in gateway.logs()
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        assert db.execute("SELECT count(*) FROM ai_calls").fetchone() == (30,)


def wait_until(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_a_worker_that_dies_is_replaced(mock: MockProcess) -> None:
    with start_workers(mock, "--workers", "2") as gateway:
        first, second = children(gateway.pid)
        time.sleep(STARTUP_S)  # a worker dying sooner counts as a failed start-up
        os.kill(first, signal.SIGKILL)

        def replaced() -> bool:
            now = children(gateway.pid)
            return len(now) == 2 and first not in now

        assert wait_until(replaced, 10)
        assert second in children(gateway.pid)
        healthz_on_a_new_connection(gateway.port).close()


def test_killing_the_parent_stops_the_workers(mock: MockProcess) -> None:
    with start_workers(mock, "--workers", "2") as gateway:
        workers = children(gateway.pid)
        gateway.proc.kill()
        assert wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 10)


def test_ctrl_c_stops_every_worker_quietly(mock: MockProcess) -> None:
    with start_workers(mock, "--workers", "2", own_process_group=True) as gateway:
        workers = children(gateway.pid)
        # What a terminal's Ctrl+C sends: SIGINT to the foreground process group.
        os.killpg(gateway.pid, signal.SIGINT)
        assert gateway.proc.wait(timeout=GRACE_S + 10) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
        gateway.stop()
        assert "Traceback" not in gateway.logs()


def requests_counted(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "aigw_requests_total"
        and sample.labels.get("status") == "200"
        and sample.labels.get("route") == "/api/ai/chat/completion"
    )


def test_metrics_of_two_workers_add_up(mock: MockProcess, tmp_path: Path) -> None:
    shared, metrics_port = tmp_path / "metrics", free_port()
    shared.mkdir()
    token = make_token("metrics-user")
    body = {"model": "mock/text", "messages": [{"role": "user", "content": "Hi"}]}
    with start_workers(
        mock, "--workers", "2", PROMETHEUS_MULTIPROC_DIR=str(shared), METRICS_PORT=str(metrics_port)
    ) as gateway:
        workers = children(gateway.pid)
        base = f"http://127.0.0.1:{gateway.port}"
        for _ in range(20):  # a connection each: the kernel spreads them over the workers
            answer = httpx.post(
                f"{base}/api/ai/chat/completion",
                json=body,
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
            )
            assert answer.status_code == 200
        # Each worker folds its samples into its files within a second.
        assert wait_until(
            lambda: (
                requests_counted(httpx.get(f"{base}/metrics", headers={"x-api-key": API_KEY}).text)
                == 20
            ),
            10,
        )
        text = httpx.get(f"{base}/metrics", headers={"x-api-key": API_KEY}).text
        unkeyed = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
    assert requests_counted(unkeyed) == 20  # the parent serves every worker's
    overhead = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("aigw_overhead_seconds") and "le" not in sample.labels
    }
    assert overhead["aigw_overhead_seconds_count"] == 20
    assert overhead["aigw_overhead_seconds_sum"] > 0
    # Both workers served: each one's own counter file holds a part of the 20.
    parts = []
    for pid in workers:
        counted = 0.0
        for path in shared.glob(f"counter_{pid}.db"):
            found = MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
            for key, value, _timestamp, _ in found:
                if '"aigw_requests_total"' in key and "/api/ai/chat/completion" in key:
                    counted += value
        parts.append(counted)
    assert sum(parts) == 20
    assert min(parts) > 0, parts
    for secret in (UPSTREAM_KEY, JWT_SECRET, API_KEY, token, "metrics-user"):
        assert secret not in text
        assert secret not in unkeyed

"""The HTTP server's own bounds (header size, header and body time, open connections) and the
access log's redaction, against the real gateway process on a real socket.

Hostile clients are raw sockets, so a test decides exactly what is sent and when. The limits are
small (8 KiB, 1 s, 1 s, 50 connections) so the whole module runs in seconds.
"""

import json
import select
import socket
import threading
import time
from contextlib import ExitStack

import pytest

from tests.factories import make_token
from tests.gateways import GatewayFactory
from tests.procs import GatewayProcess

MAX_HEADER_BYTES = 8192
TIMEOUT_S = 1.0  # both the header and the body read timeout
MAX_CONNECTIONS = 50
HUGE_HEADER_BYTES = 128 * 1024 * 1024
CHUNK = b"a" * 65536
SLACK_S = 0.8  # how late past a timeout the server may act on a loaded 2-core machine


@pytest.fixture
def bounded(gateway_factory: GatewayFactory) -> GatewayProcess:
    env = {
        "MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
        "HEADER_READ_TIMEOUT_S": str(TIMEOUT_S),
        "BODY_READ_TIMEOUT_S": str(TIMEOUT_S),
        "MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "LOG_LEVEL": "info",
    }
    return gateway_factory(**env)


def connect(gateway: GatewayProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", gateway.port), timeout=5)


def read_until_closed(sock: socket.socket, within_s: float) -> bytes:
    """Everything the server sends until it closes; fails if it is still open after `within_s`."""
    deadline = time.monotonic() + within_s
    data = b""
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"connection still open after {within_s} s; received {data[:200]!r}")


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length, leaving the connection open."""
    sock.settimeout(5)
    raw = b""
    while b"\r\n\r\n" not in raw:
        raw += sock.recv(65536)
    head, _, body = raw.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def status_and_json(raw: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def request(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: gateway", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chat_request(body: bytes, content_length: int | None = None) -> bytes:
    head = (
        "POST /api/ai/chat/completion HTTP/1.1\r\nHost: gateway\r\n"
        f"Authorization: Bearer {make_token()}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) if content_length is None else content_length}\r\n\r\n"
    )
    return head.encode() + body


def stream_huge_header(sock: socket.socket, stop: threading.Event | None = None) -> int:
    """Send a 128 MB header as fast as the server takes it, until it answers or hangs up
    (or 3 s pass); return the bytes sent."""
    sock.setblocking(False)
    sent = 0
    deadline = time.monotonic() + 3.0
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Huge: ")
        while sent < HUGE_HEADER_BYTES and time.monotonic() < deadline:
            if stop is not None and stop.is_set():
                break
            readable, writable, _ = select.select([sock], [sock], [], 0.1)
            if readable:
                break
            if writable:
                sent += sock.send(CHUNK)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sock.setblocking(True)
    return sent


def test_oversized_headers_get_431_and_headers_under_the_limit_are_served(
    bounded: GatewayProcess,
) -> None:
    with connect(bounded) as sock:
        sock.sendall(request("/healthz", "X-Pad: " + "a" * (MAX_HEADER_BYTES - 300)))
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        # Headers and a body far larger than the header limit, in one write: body bytes that
        # arrive in the read that ends the headers are not header bytes.
        message = {"role": "user", "content": "x" * (4 * MAX_HEADER_BYTES)}
        sock.sendall(
            chat_request(json.dumps({"model": "mock/text", "messages": [message]}).encode())
        )
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")

    with connect(bounded) as sock:
        started = time.monotonic()
        sock.sendall(request("/healthz", "X-Pad: " + "a" * (MAX_HEADER_BYTES + 100)))
        status, body = status_and_json(read_until_closed(sock, within_s=TIMEOUT_S))
    assert time.monotonic() - started < 0.5
    assert status == 431
    assert body["error"] == "REQUEST_HEADERS_TOO_LARGE"
    assert body["statusCode"] == 431


def test_a_128_mb_header_is_refused_after_about_the_limit(bounded: GatewayProcess) -> None:
    with connect(bounded) as sock:
        started = time.monotonic()
        sent = stream_huge_header(sock)
        raw = read_until_closed(sock, within_s=2.0)
    # What the kernels buffer between the two ends, not what the server parsed.
    assert sent < 4 * 1024 * 1024
    assert time.monotonic() - started < 2.0
    assert status_and_json(raw)[0] == 431


def test_slow_headers_get_408(bounded: GatewayProcess) -> None:
    with connect(bounded) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        sock.setblocking(False)
        answered: list[bytes] = []
        while not answered and time.monotonic() - started < TIMEOUT_S + SLACK_S + 1:
            readable, _, _ = select.select([sock], [], [], 0.3)
            if readable:
                answered.append(b"")
            else:
                sock.send(b"a")  # a byte every 0.3 s: never idle, never done
        raw = read_until_closed(sock, within_s=1.0)
    elapsed = time.monotonic() - started
    status, body = status_and_json(raw)
    assert (status, body["error"]) == (408, "REQUEST_TIMEOUT")
    assert TIMEOUT_S - 0.1 < elapsed < TIMEOUT_S + SLACK_S


def test_an_idle_connection_is_closed(bounded: GatewayProcess) -> None:
    with connect(bounded) as sock:
        started = time.monotonic()
        assert read_until_closed(sock, within_s=TIMEOUT_S + SLACK_S) == b""
    assert time.monotonic() - started > TIMEOUT_S - 0.1


def test_a_half_sent_body_gets_408(bounded: GatewayProcess) -> None:
    with connect(bounded) as sock:
        started = time.monotonic()
        sock.sendall(chat_request(b'{"model":', content_length=1000))
        status, body = status_and_json(read_until_closed(sock, within_s=TIMEOUT_S + SLACK_S))
    assert (status, body["error"], body["statusCode"]) == (408, "REQUEST_TIMEOUT", 408)
    assert time.monotonic() - started > TIMEOUT_S - 0.1
    # The route sees its caller gone: a quiet 499 in the log, not an unexpected error.
    time.sleep(0.1)
    assert "unhandled error" not in bounded.logs()


def test_connections_beyond_the_limit_get_503_until_idle_ones_are_closed(
    bounded: GatewayProcess,
) -> None:
    with ExitStack() as stack:
        # A few more than the limit: whatever earlier tests left closing, the limit is reached.
        idle = [stack.enter_context(connect(bounded)) for _ in range(MAX_CONNECTIONS + 5)]
        time.sleep(0.2)  # let the server accept them all
        with connect(bounded) as sock:
            status, body = status_and_json(read_until_closed(sock, within_s=1.0))
        assert (status, body["error"], body["statusCode"]) == (503, "AI_GATEWAY_BUSY", 503)

        for sock in idle:  # closed by the header timeout (the extra ones by the 503)
            read_until_closed(sock, within_s=TIMEOUT_S + SLACK_S)
        with connect(bounded) as sock:
            sock.sendall(request("/healthz", "Connection: close"))
            assert read_until_closed(sock, within_s=2.0).startswith(b"HTTP/1.1 200 ")


def test_a_long_stream_on_a_keep_alive_connection_is_not_cut(bounded: GatewayProcess) -> None:
    body = (
        b'{"model":"mock/text?tokens=10&tpot_ms=300",'
        b'"messages":[{"role":"user","content":"Hi"}],"stream":true}'
    )
    with connect(bounded) as sock:
        started = time.monotonic()
        sock.sendall(chat_request(body))
        raw = b""
        while not raw.endswith(b"\r\n0\r\n\r\n"):  # the last chunk of a chunked response
            chunk = sock.recv(65536)
            assert chunk, f"stream cut after {time.monotonic() - started:.1f} s: {raw[-200:]!r}"
            raw += chunk
        streamed_s = time.monotonic() - started
        assert raw.startswith(b"HTTP/1.1 200 ")
        assert b'data: {"done":true}' in raw
        assert streamed_s > TIMEOUT_S * 2  # outlived the header timeout on a live connection
        # Now idle again: the header timeout runs from the end of the response.
        idle_from = time.monotonic()
        assert read_until_closed(sock, within_s=TIMEOUT_S + SLACK_S) == b""
    assert time.monotonic() - idle_from > TIMEOUT_S - 0.1


def test_healthz_answers_quickly_while_hostile_clients_hold_connections(
    bounded: GatewayProcess,
) -> None:
    stop = threading.Event()

    def flood() -> None:  # one 128 MB header after another, for as long as the test runs
        while not stop.is_set():
            with connect(bounded) as sock:
                stream_huge_header(sock, stop)
            time.sleep(0.05)

    with ExitStack() as stack:
        idle = [stack.enter_context(connect(bounded)) for _ in range(36)]
        slow_bodies = [stack.enter_context(connect(bounded)) for _ in range(5)]
        for sock in slow_bodies:
            sock.sendall(chat_request(b"{", content_length=1000))
        flooder = threading.Thread(target=flood)
        flooder.start()
        stack.callback(flooder.join)
        stack.callback(stop.set)
        time.sleep(0.3)

        latencies = []
        for _ in range(3):
            started = time.monotonic()
            with connect(bounded) as sock:
                sock.sendall(request("/healthz", "Connection: close"))
                assert read_until_closed(sock, within_s=2.0).startswith(b"HTTP/1.1 200 ")
            latencies.append(time.monotonic() - started)
            time.sleep(0.1)
        assert max(latencies) < 1.0, latencies

        for sock in [*idle, *slow_bodies]:  # all hung up on by the server
            read_until_closed(sock, within_s=TIMEOUT_S + SLACK_S)


def test_the_access_log_leaves_out_query_strings(bounded: GatewayProcess) -> None:
    with connect(bounded) as sock:
        client = f"127.0.0.1:{sock.getsockname()[1]}"
        sock.sendall(request("/healthz?token=secret123", "Connection: close"))
        assert read_until_closed(sock, within_s=2.0).startswith(b"HTTP/1.1 200 ")
    deadline = time.monotonic() + 2.0
    while "path=/healthz" not in bounded.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    logs = bounded.logs()
    # The gateway's own access line (app/logs.py): the path without its query string.
    assert (
        f"client={client.partition(':')[0]} method=GET path=/healthz route=/healthz status=200"
        in logs
    )
    assert "secret123" not in logs

"""`GET /healthz` on HEALTH_PORT, answered from a thread: a liveness probe that a busy event
loop cannot delay.

Measured with `python -m bench.accept` (2,000 connections streaming on one process, 2 cores): a
new connection's `/healthz` on the main port waits for a few turns of a saturated event loop,
0.8 to 2.3 s at worst whichever the loop (uvloop or asyncio); a Kubernetes liveness probe with a
1 s timeout would then kill a pod that is only busy, and every stream on it. This listener's own
thread answers within milliseconds (it needs the GIL only briefly, which the loop yields every
switch interval).

Busy is alive, stuck is not: the event loop stamps a heartbeat every HEARTBEAT_S, and the
answer is 503 once the loop has not done so for LOOP_STALL_S (a blocking call holding it).
With several workers each binds the port with SO_REUSEPORT; the kernel picks which one answers.
The main port's `/healthz` stays as it was, for whoever probes it.
"""

import asyncio
import http.server
import logging
import socket
import threading
import time

log = logging.getLogger("app.liveness")

HEARTBEAT_S = 1.0
# Far beyond any turn of a loop that is merely busy (seconds at most), well within a probe's
# failure threshold times its period.
LOOP_STALL_S = 30.0
# A probe sends its request at once; a connection that does not is dropped, not waited on.
REQUEST_TIMEOUT_S = 2.0


class _Listener(http.server.HTTPServer):
    allow_reuse_address = True
    allow_reuse_port = True
    address_family = socket.AF_INET

    def __init__(self, address: tuple[str, int], stall_s: float) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.last_beat = time.monotonic()
        self.stall_s = stall_s


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Listener
    timeout = REQUEST_TIMEOUT_S
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.partition("?")[0] != "/healthz":
            self._answer(404, b'{"status":"not found"}')
        elif time.monotonic() - self.server.last_beat > self.server.stall_s:
            self._answer(503, b'{"status":"event loop stalled"}')
        else:
            self._answer(200, b'{"status":"ok"}')

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Probes every few seconds are not worth a line each."""


class LivenessListener:
    def __init__(self, host: str, port: int, stall_s: float = LOOP_STALL_S) -> None:
        self._server = _Listener((host, port), stall_s)
        # Several beats per stall bound, so a loop that turns is never taken for a stalled one.
        self._every_s = min(HEARTBEAT_S, stall_s / 4)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="liveness", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._server.last_beat = time.monotonic()
        self._beat(loop)
        self._thread.start()
        log.info("liveness on http://%s:%d/healthz", *self._server.server_address[:2])

    def _beat(self, loop: asyncio.AbstractEventLoop) -> None:
        self._server.last_beat = time.monotonic()
        loop.call_later(self._every_s, self._beat, loop)

"""Start the gateway as a real process on a real socket, configured through its environment."""

import os
import socket
import subprocess
import sys
import time
from types import TracebackType
from typing import Self

import httpx

from tests.factories import ANON_KEY, API_KEY, JWT_SECRET, UPSTREAM_KEY

READY_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GatewayProcess:
    def __init__(self, upstream_url: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        base_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OPENROUTER_", "ACCESS_", "AI_", "MAX_", "UPSTREAM_", "CORS_"))
        }
        base_env.update(
            {
                "OPENROUTER_API_KEY": UPSTREAM_KEY,
                "OPENROUTER_BASE_URL": upstream_url,
                "JWT_SECRET": JWT_SECRET,
                "ACCESS_ANON_KEY": ANON_KEY,
                "ACCESS_API_KEY": API_KEY,
                "UPSTREAM_RETRY_BASE_S": "0.01",
                "LOG_LEVEL": "warning",
                **env,
            }
        )
        self.log_path = f"/tmp/ai-gateway-test-{self.port}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "--port", str(self.port)],
            env=base_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited early:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gateway did not become ready:\n{self.logs()}")

    def logs(self) -> str:
        self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def open_raw_stream(gateway: GatewayProcess, path: str, body: bytes, token: str) -> socket.socket:
    """POST over a bare socket, so a test can stop reading or hang up at a moment it picks."""
    sock = socket.create_connection(("127.0.0.1", gateway.port))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock

"""Start the mock as a child process and learn its address from the one line it prints.

Used by pytest fixtures and by the gateway's dev mode. The child binds an ephemeral port itself,
so parallel test sessions never race for a port.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO

STARTUP_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
_LISTENING = re.compile(rb"mock-openrouter listening on (http://\S+)")


class MockProcess:
    """A running mock; ``base_url`` is what the gateway uses as its upstream base."""

    def __init__(self, proc: subprocess.Popen[bytes], root_url: str) -> None:
        self.proc = proc
        self.root_url = root_url
        self.base_url = f"{root_url}/api/v1"
        assert proc.stdout is not None
        self._stdout = proc.stdout
        self._drainer = threading.Thread(target=_drain, args=(proc.stdout,), daemon=True)
        self._drainer.start()

    @property
    def port(self) -> int:
        return int(self.root_url.rsplit(":", 1)[1])

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._drainer.join(timeout)
        if not self._drainer.is_alive():
            self._stdout.close()
        return self.proc.returncode

    def __enter__(self) -> MockProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _read_listening_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    stdout = proc.stdout
    assert stdout is not None
    buffer = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(remaining):
                continue
            chunk = os.read(stdout.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            match = _LISTENING.search(buffer)
            if match:
                return match.group(1).decode("ascii")
    proc.kill()
    proc.wait()
    stdout.close()
    raise RuntimeError(f"mock-openrouter did not start (exit {proc.returncode}): {buffer!r}")


def _drain(stream: IO[bytes]) -> None:
    # Keep reading so a stray write to stdout can never fill the pipe and block the mock.
    while stream.read(65536):
        pass


def start_mock(
    seed: int = 0,
    bench: bool = False,
    extra_args: list[str] | None = None,
    *,
    host: str = "127.0.0.1",
    startup_timeout: float = STARTUP_TIMEOUT_S,
) -> MockProcess:
    """Spawn ``python -m mock_openrouter --port 0`` and wait until it accepts connections."""
    cmd = [
        sys.executable,
        "-m",
        "mock_openrouter",
        "--host",
        host,
        "--port",
        "0",
        "--seed",
        str(seed),
    ]
    if bench:
        cmd.append("--bench")
    cmd += extra_args or []
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    return MockProcess(proc, _read_listening_line(proc, startup_timeout))

"""The one launcher: start a server as a child process, wait until it answers, keep its log,
stop it (SIGTERM, then SIGKILL).

Everything that runs a server process uses it: `start_mock` here, the gateway under test
(tests/procs.py) and each server the benchmark measures (bench/procs.py). It lives in the mock's
package because that package ships: `ai-gateway --mock-upstream` starts the mock from an
installed wheel, where neither tests/ nor bench/ exists; it needs nothing beyond httpx.

A server is ready when its ready path answers (any status: the port is served). A child that
picks its own port (the mock with ``--port 0``, so parallel sessions never race for one)
announces its URL in its log instead, and is ready once that line appears. Output goes to a
file, never a pipe, so a chatty child can never block on a full pipe and nothing has to drain it.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Self

import httpx

STARTUP_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
POLL_S = 0.02
PROBE_TIMEOUT_S = 1.0
LOG_TAIL_CHARS = 4000  # of the log, in the error when a server does not start
_LISTENING = re.compile(rb"mock-openrouter listening on (http://\S+)")
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Closing:
    """`with` support for whatever has a `close()`: closed on leaving the block, however."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class ServerProcess(Closing):
    """A running server: `url`, the child `proc`, and everything it wrote (`logs()`).

    Give `port` (the command binds it) or `announce` (a pattern whose first group is the URL
    the child prints once it listens). `log` is kept after the run; without it the output goes
    to an unnamed temporary file. `pin_to` puts the child, and every thread it starts, on one
    CPU core. `own_process_group` keeps a terminal's Ctrl+C (sent to the whole foreground group)
    from reaching the child, and ends the child when this process dies, however it dies (Linux).
    """

    def __init__(
        self,
        name: str,
        cmd: Sequence[str],
        *,
        port: int | None = None,
        announce: re.Pattern[bytes] | None = None,
        ready_path: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        log: Path | None = None,
        pin_to: int | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_S,
        stop_timeout: float = STOP_TIMEOUT_S,
        own_process_group: bool = False,
    ) -> None:
        if (port is None) == (announce is None):
            raise ValueError("give exactly one of port and announce")
        self.name = name
        self._url = None if port is None else f"http://127.0.0.1:{port}"
        self._stop_timeout = stop_timeout
        self._final_log = b""
        self._log: IO[bytes] = log.open("w+b") if log is not None else tempfile.TemporaryFile()
        # A terminal's Ctrl+C reaches the child too until it has its own group: blocked here, it
        # waits, and the child discards it (`_child_setup`) instead of raising KeyboardInterrupt
        # inside Python's fork hooks, which print a traceback.
        held = own_process_group and sys.platform == "linux"
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if held else None
        try:
            self.proc = subprocess.Popen(
                list(cmd),
                env=None if env is None else dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                preexec_fn=_child_setup(pin_to, die_with_parent=own_process_group),
                process_group=0 if own_process_group else None,
            )
        except OSError as err:
            self._log.close()
            raise RuntimeError(f"{name} could not be started: {err}") from err
        finally:
            if blocked is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        try:
            self._wait_ready(announce, ready_path, startup_timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        """Scheme, host and port; known once the constructor has returned."""
        assert self._url is not None
        return self._url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait_ready(
        self, announce: re.Pattern[bytes] | None, ready_path: str | None, timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self._url is None and announce is not None:
                found = announce.search(self._read_log())
                self._url = found.group(1).decode("ascii") if found else None
            if self._url is not None and (ready_path is None or self._answers(ready_path)):
                return
            time.sleep(POLL_S)
        tail = self.logs()[-LOG_TAIL_CHARS:]
        raise RuntimeError(f"{self.name} did not start (exit {self.proc.poll()}):\n{tail}")

    def _answers(self, path: str) -> bool:
        try:
            httpx.get(self.url + path, timeout=PROBE_TIMEOUT_S)
        except httpx.TransportError:
            return False
        return True

    def _read_log(self) -> bytes:
        # pread: the child shares this file's offset, so seeking here would move its writes.
        fd = self._log.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0)

    def logs(self) -> str:
        """Everything the server has written so far (all of it, once stopped), stdout and
        stderr together."""
        raw = self._final_log if self._log.closed else self._read_log()
        return raw.decode("utf-8", "replace")

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds; its exit code."""
        timeout = self._stop_timeout if timeout is None else timeout
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        if not self._log.closed:
            self._final_log = self._read_log()
            self._log.close()
        return self.proc.returncode

    def close(self) -> None:
        self.stop()


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _child_setup(pin_to: int | None, *, die_with_parent: bool) -> Callable[[], None] | None:
    if pin_to is None and not (die_with_parent and sys.platform == "linux"):
        return None

    def apply() -> None:
        # In the child before exec, so every thread the server later starts inherits it.
        if pin_to is not None:
            os.sched_setaffinity(0, {pin_to})
        if die_with_parent and sys.platform == "linux":
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
            # In its own group now: a Ctrl+C that reached it before (blocked by the parent) is
            # discarded, and later ones are the gateway's to handle, not the mock's.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    return apply


class MockProcess(ServerProcess):
    """A running mock; ``base_url`` is what the gateway uses as its upstream base."""

    @property
    def root_url(self) -> str:
        return self.url

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/v1"


def start_mock(
    seed: int = 0,
    bench: bool = False,
    extra_args: list[str] | None = None,
    *,
    host: str = "127.0.0.1",
    startup_timeout: float = STARTUP_TIMEOUT_S,
    own_process_group: bool = False,
) -> MockProcess:
    """Spawn ``python -m mock_openrouter --port 0`` and wait until it accepts connections."""
    cmd = [sys.executable, "-m", "mock_openrouter", "--host", host, "--port", "0"]
    cmd += ["--seed", str(seed), *(["--bench"] if bench else []), *(extra_args or [])]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    return MockProcess(
        "mock-openrouter",
        cmd,
        announce=_LISTENING,
        env=env,
        startup_timeout=startup_timeout,
        own_process_group=own_process_group,
    )

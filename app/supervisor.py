"""`ai-gateway --workers N`: N worker processes serving one port, and this process supervising.

The parent binds the listening socket once and starts each worker as `python -m app.worker`
with the socket's descriptor, so the workers share one accept queue (the kernel hands each new
connection to whichever worker accepts first). Each worker is a whole gateway: its own event
loop, upstream pool, ledger writer, SIGTERM grace and GC settings (QUOTA_* limits need
REDIS_URL here: counted in each worker's memory they would multiply, so that is refused)
(`app.server.serve`). The parent builds no app; it serves only METRICS_PORT, when set (every
worker's metrics, from the directory they share: app/metrics.py).

Why not uvicorn's `--workers`: its supervisor starts `uvicorn.Server` with a plain Config, which
would drop our bounded protocol, the streams' grace (GatewayServer) and the GC settings.

Signals: each worker runs in a process group of its own, so a terminal's Ctrl+C reaches only
the parent, which turns the first SIGINT or SIGTERM into one SIGTERM per worker (each then gives
its open streams their final error event within SHUTDOWN_GRACE_S) and a second one into SIGINT
(uvicorn's "stop now"). Workers get a parent-death signal, so killing the parent outright
still stops them. The parent exits 0 once every worker has stopped cleanly, 1 otherwise.

A worker that dies on its own is started again, unless it died during its start-up: then the
same would happen again, and the parent stops the others and exits 1.
"""

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

from app import metrics
from app.config import Settings

log = logging.getLogger("app.supervisor")

# uvicorn's default backlog: connections the kernel queues while every worker is busy.
LISTEN_BACKLOG = 2048
POLL_S = 0.1
# A worker that exits sooner than this after its start failed to start, and would again.
STARTUP_S = 5.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# How a worker that stopped as asked may end: 0, or re-raising the signal it handled (uvicorn).
_CLEAN_EXITS = frozenset({0, -signal.SIGTERM, -signal.SIGINT})


def prepare_worker_environment() -> dict[str, str]:
    """The environment every worker starts with: the one place to add what workers need
    before they start (e.g. a metrics directory shared by all of them)."""
    env = dict(os.environ)
    # A worker serves; it never supervises workers of its own.
    env["WEB_CONCURRENCY"] = "1"
    return env


def bind_listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def _die_with_parent() -> None:
    # In the child before exec: the worker gets SIGTERM (its graceful stop) if the parent dies.
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    # In its own group now: a Ctrl+C that reached it before is discarded (the parent forwards
    # its own), and the default comes back for uvicorn to install its handler after exec.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Supervisor:
    def __init__(self, sock: socket.socket, host: str, port: int, env: dict[str, str]) -> None:
        self._sock = sock
        self._command = [
            sys.executable,
            "-m",
            "app.worker",
            str(sock.fileno()),
            host,
            str(sock.getsockname()[1] if port == 0 else port),
        ]
        self._env = env
        self._workers: dict[int, tuple[subprocess.Popen[bytes], float]] = {}
        self._signals = 0

    def start(self, slot: int) -> None:
        # SIGINT blocked until the worker is in its own group (`_die_with_parent` discards one
        # that came before): raised inside Python's fork hooks, it would print a traceback.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            proc = subprocess.Popen(
                self._command,
                env=self._env,
                stdin=subprocess.DEVNULL,
                pass_fds=(self._sock.fileno(),),
                process_group=0,
                preexec_fn=_die_with_parent,
            )
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        self._workers[slot] = (proc, time.monotonic())

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals += 1
        forward = signal.SIGTERM if self._signals == 1 else signal.SIGINT
        if self._signals == 1:
            log.info("%s: stopping %d workers", signal.Signals(signum).name, len(self._workers))
        for proc, _started in self._workers.values():
            if proc.poll() is None:
                proc.send_signal(forward)

    def run(self) -> int:
        """Until every worker has exited after a signal; the exit code for the parent."""
        while True:
            running = False
            for slot, (proc, started) in list(self._workers.items()):
                code = proc.poll()
                if code is None:
                    running = True
                elif self._signals == 0:
                    if time.monotonic() - started < STARTUP_S:
                        log.error("worker %d exited during start-up (%s); stopping", proc.pid, code)
                        self.on_signal(signal.SIGTERM, None)
                        return self._wait_all(failed=True)
                    log.warning("worker %d exited (%s); starting another", proc.pid, code)
                    metrics.worker_gone(proc.pid)  # its open streams and queued rows are gone
                    self.start(slot)
                    running = True
            if not running:
                return self._wait_all(failed=False)
            time.sleep(POLL_S)

    def _wait_all(self, *, failed: bool) -> int:
        codes = [proc.wait() for proc, _started in self._workers.values()]
        return 1 if failed or any(code not in _CLEAN_EXITS for code in codes) else 0


def supervise(settings: Settings, host: str, port: int, workers: int) -> int:
    """Serve with `workers` processes until SIGTERM/SIGINT; the parent's exit code."""
    if settings.redis_url is None and _has_quotas(settings):
        # Each worker would count its own: N workers would allow N times every limit.
        sys.stderr.write(
            "ai-gateway: configuration error: QUOTA_* limits with more than one worker need "
            "REDIS_URL (each worker would count its own)\n"
        )
        return 1
    sock = bind_listener(host, port)
    env = prepare_worker_environment()
    with contextlib.ExitStack() as stack:
        stack.callback(sock.close)
        if settings.metrics_enabled:
            # Every worker writes its metrics there; a scrape of any of them reads them all.
            stack.callback(metrics.shared_directory(env))
            if settings.metrics_port is not None:
                stack.callback(metrics.serve(settings.metrics_port, host, None))
        supervisor = Supervisor(sock, host, port, env)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, supervisor.on_signal)
        for slot in range(workers):
            supervisor.start(slot)
        log.info("ai-gateway: %d workers on http://%s:%d", workers, host, sock.getsockname()[1])
        return supervisor.run()
    raise AssertionError("unreachable")


def _has_quotas(settings: Settings) -> bool:
    limits = (
        settings.quota_rpm,
        settings.quota_tokens_per_day,
        settings.quota_usd_per_day,
        settings.quota_usd_per_month,
        settings.quota_concurrent_streams,
    )
    return any(limit is not None for limit in limits)

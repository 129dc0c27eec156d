"""CLI: ``python -m mock_openrouter --host 127.0.0.1 --port 0 [--seed N] [--bench]``.

With ``--port 0`` the socket is bound here, so the real port is known before uvicorn starts; the
single stdout line is printed only once uvicorn is accepting connections.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
from types import FrameType

import uvicorn

from .app import create_app
from .config import MockConfig
from .executor import MockDropError

GRACEFUL_SHUTDOWN_S = 1  # streams can be stalled on purpose; never wait long for them


class _ExpectedFilter(logging.Filter):
    """Injected drops, and streams cut short by shutdown, are expected; keep them out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, MockDropError | asyncio.CancelledError):
            return False
        return "graceful shutdown exceeded" not in str(record.msg)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self.url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(f"mock-openrouter listening on {self.url}", flush=True)  # noqa: T201

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:  # noqa: ARG002
        # Unlike uvicorn's handler, do not re-raise the signal after shutdown: exit status 0.
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True


def _loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mock_openrouter", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 binds an ephemeral port")
    parser.add_argument("--seed", type=int, default=0, help="seed for every random wire variant")
    parser.add_argument("--bench", action="store_true", help="precomputed bytes, no journal")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    sock = _bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    app = create_app(MockConfig.for_mode(args.seed, args.bench))
    config = uvicorn.Config(
        app,
        loop=_loop(),
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level=args.log_level,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    logging.getLogger("uvicorn.error").addFilter(_ExpectedFilter())
    _Server(config, f"http://{shown_host}:{port}").run(sockets=[sock])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

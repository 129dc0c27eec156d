"""`ai-gateway`: run the gateway with uvicorn on HOST/PORT (the usage ledger's migrations are
applied first, by the app's start-up); `ai-gateway migrate` applies only those, and exits.

`--mock-upstream` starts the mock OpenRouter as a child process and points the gateway at it,
so a newcomer gets real answers with no key and no network; it then also mints a throwaway
JWT secret (unless JWT_SECRET is set) and prints a user token to try the gateway with.
"""

import argparse
import asyncio
import gc
import logging
import os
import secrets
import signal
import socket
import sys
import time
from types import FrameType

import uvicorn
from jose import jwt

from app.config import get_settings
from app.http_protocol import bounded_protocol
from app.ledger.migrate import migrate_database
from app.main import create_app, load_settings
from app.streams.clock import ShutdownCoordinator

DEV_TOKEN_TTL_S = 24 * 3600


class GatewayServer(uvicorn.Server):
    """uvicorn, plus: SIGTERM/SIGINT start the streams' shutdown grace on the event loop."""

    def __init__(self, config: uvicorn.Config, shutdown: ShutdownCoordinator) -> None:
        super().__init__(config)
        self._shutdown = shutdown
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._loop is not None:
            # A signal handler must not touch loop state directly; hand it to the loop.
            self._loop.call_soon_threadsafe(self._shutdown.begin)
        super().handle_exit(sig, frame)


class DropQueryString(logging.Filter):
    """Log an access line's path without its query string: credentials put there by mistake
    must not reach the log. uvicorn's record args are (client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].partition("?")[0], args[3], args[4])
        return True


def _dev_token(secret: str) -> str:
    now = int(time.time())
    claims = {"sub": "dev-user", "role": "authenticated", "iat": now, "exp": now + DEV_TOKEN_TTL_S}
    return jwt.encode(claims, secret, algorithm="HS256")


# Measured with 5,000 held streams (bench/README.md): at Python's default (700, 10, 10) the
# collector took 15 of the 40 CPU seconds, re-scanning every open stream's objects in each of 19
# full collections while the streams opened; at these, under 2 s. The gateway makes little cyclic
# garbage (a request's objects are freed by reference counting), so collecting it less often
# costs little memory.
GC_THRESHOLDS = (10_000, 20, 20)


def tune_gc() -> None:
    """Freeze what start-up made (modules, app, settings: it lives as long as the process, and
    need not be traversed by every full collection again) and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ai-gateway", description=__doc__)
    parser.add_argument("--mock-upstream", action="store_true", help="serve from a local mock")
    parser.add_argument("--host", help="bind address (default: HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: PORT or 8080)")
    commands = parser.add_subparsers(dest="command", metavar="{migrate}")
    commands.add_parser(
        "migrate", help="apply the usage ledger's migrations and exit (serving applies them too)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs every request at INFO: a log line per upstream call is noise and CPU.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.command == "migrate":
        asyncio.run(migrate_database(load_settings()))
        return

    mock = None
    if args.mock_upstream:
        from mock_openrouter.process import start_mock

        mock = start_mock()
        # uvicorn re-raises the SIGTERM it handled once it has shut down; the default action
        # would end this process there, before the `finally` below stops the mock.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        os.environ["OPENROUTER_BASE_URL"] = mock.base_url
        os.environ["OPENROUTER_API_KEY"] = "sk-or-mock-" + secrets.token_hex(8)
        os.environ.setdefault("JWT_SECRET", secrets.token_urlsafe(32))
        get_settings.cache_clear()
    try:
        settings = load_settings()
        logging.getLogger().setLevel(settings.log_level.upper())
        if mock is not None:
            token = _dev_token(settings.jwt_secret.get_secret_value())
            sys.stderr.write(
                f"mock upstream at {mock.base_url}\n"
                f"dev user token (24 h): {token}\n"
                "try: curl -s localhost:%d/api/ai/chat/completion"
                " -H 'Authorization: Bearer <token>' -H 'Content-Type: application/json'"
                ' -d \'{"model":"mock/text","messages":[{"role":"user","content":"Hi"}]}\'\n'
                % (args.port or settings.port)
            )
        app = create_app(settings)
        config = uvicorn.Config(
            app,
            host=args.host or settings.host,
            port=args.port if args.port is not None else settings.port,
            # httptools with header, header-time, body-time and connection bounds.
            http=bounded_protocol(settings),
            log_level=settings.log_level,
            proxy_headers=False,
            server_header=False,
            # Long enough for open streams to use their grace and send their last event.
            timeout_graceful_shutdown=int(settings.shutdown_grace_s) + 5,
        )
        # Config has set up uvicorn's loggers by now; the filter goes on the configured one.
        logging.getLogger("uvicorn.access").addFilter(DropQueryString())
        tune_gc()
        GatewayServer(config, app.state.shutdown).run()
    finally:
        if mock is not None:
            mock.stop()


if __name__ == "__main__":
    main()

"""`ai-gateway`: run the gateway with uvicorn on HOST/PORT (the usage ledger's migrations are
applied first, by the app's start-up); `ai-gateway migrate` applies only those, and exits.

`--mock-upstream` starts the mock OpenRouter as a child process and points the gateway at it,
so a newcomer gets real answers with no key and no network; it then also mints a throwaway
JWT secret (unless JWT_SECRET is set) and prints a user token and an admin key to try the
gateway with (app/devmode.py).

`--workers N` (or WEB_CONCURRENCY) runs N worker processes on one shared socket, supervised by
this process (app/supervisor.py); each worker runs `serve` (app/server.py), as one process does.
"""

# Imports beyond the standard library happen inside `main`: a Ctrl+C while they load (a second
# or so) then exits as quietly as one afterwards.
import argparse
import signal
import sys
from types import FrameType


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


# A Ctrl+C during start-up is held until a point where stopping is clean. Raised wherever it
# lands, it could surface wrapped in another error (pydantic-core turns it into a SchemaError
# when it hits a model's construction during an import), or leave CPython's "unhandled
# interrupt" flag set, so that the process died by SIGINT at exit although this caught it.
_interrupt_pending = False


def _hold_interrupt(_signum: int, _frame: FrameType | None) -> None:
    global _interrupt_pending
    _interrupt_pending = True


def _stop_if_interrupted() -> None:
    if _interrupt_pending:
        raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGINT, _hold_interrupt)
    try:
        _main(argv)
    except KeyboardInterrupt:
        # Ctrl+C before the server has taken over the signal (start-up): quiet, as after it.
        sys.exit(128 + signal.SIGINT)


def _main(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(prog="ai-gateway", description=__doc__)
    parser.add_argument("--mock-upstream", action="store_true", help="serve from a local mock")
    parser.add_argument("--host", help="bind address (default: HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: PORT or 8080)")
    parser.add_argument(
        "--workers",
        type=int,
        help="worker processes sharing the port (default: WEB_CONCURRENCY or 1)",
    )
    commands = parser.add_subparsers(dest="command", metavar="{migrate}")
    commands.add_parser(
        "migrate", help="apply the usage ledger's migrations and exit (serving applies them too)"
    )
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    import asyncio

    from app.config import get_settings
    from app.main import load_settings
    from app.server import configure_logging, serve

    _stop_if_interrupted()
    configure_logging()
    if args.command == "migrate":
        from app.ledger.migrate import migrate_database

        signal.signal(signal.SIGINT, signal.default_int_handler)
        asyncio.run(migrate_database(load_settings()))
        return

    mock = None
    if args.mock_upstream:
        from app.devmode import print_banner, start_dev_upstream

        mock, made_admin_key = start_dev_upstream()
        # uvicorn re-raises the SIGTERM it handled once it has shut down; the default action
        # would end this process there, before the `finally` below stops the mock.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        get_settings.cache_clear()
    try:
        _stop_if_interrupted()
        settings = load_settings()
        configure_logging(settings)
        host = args.host or settings.host
        port = args.port if args.port is not None else settings.port
        if mock is not None:
            admin_key = settings.api_key_value if made_admin_key else None
            print_banner(mock, settings.jwt_secret.get_secret_value(), admin_key, port)
            from app.examples import missing_bundles

            if missing_bundles():
                sys.stderr.write(
                    "browser example: its SDK bundles are not built; scripts/example.sh builds"
                    " them (Node.js 20+)\n"
                )
        workers = args.workers if args.workers is not None else settings.web_concurrency
        # From here a Ctrl+C is the server's (or the supervisor's) to handle, as it serves.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _stop_if_interrupted()
        if workers > 1:
            from app.supervisor import supervise

            sys.exit(supervise(settings, host, port, workers))
        serve(settings, host, port)
    finally:
        if mock is not None:
            mock.stop()


if __name__ == "__main__":
    main()

"""Serving the gateway in one process: uvicorn with our bounded protocol, the streams' grace on
SIGTERM/SIGINT (GatewayServer) and the collector's settings. `ai-gateway` runs `serve` itself,
or in each worker of `--workers N` (app/worker.py).
"""

import asyncio
import gc
import socket
from types import FrameType

import uvicorn
from fastapi import FastAPI

from app import logs
from app.config import Settings
from app.http_protocol import bounded_protocol
from app.liveness import LivenessListener
from app.main import create_app
from app.streams.clock import ShutdownCoordinator


class GatewayServer(uvicorn.Server):
    """uvicorn, plus: SIGTERM/SIGINT start the streams' shutdown grace on the event loop."""

    def __init__(
        self,
        config: uvicorn.Config,
        shutdown: ShutdownCoordinator,
        liveness: LivenessListener | None = None,
    ) -> None:
        super().__init__(config)
        self._shutdown = shutdown
        self._liveness = liveness
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        if self._liveness is not None:
            self._liveness.start(self._loop)
        await super().startup(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._loop is not None:
            # A signal handler must not touch loop state directly; hand it to the loop.
            self._loop.call_soon_threadsafe(self._shutdown.begin)
        super().handle_exit(sig, frame)


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


def configure_logging(settings: Settings | None = None) -> None:
    """The log format of the parent and of every worker: text at info until the settings are
    read (a configuration error is one line either way), then theirs."""
    if settings is None:
        logs.configure("info", "text")
    else:
        logs.configure(settings.log_level, settings.log_format)


def serve(
    settings: Settings, host: str, port: int, sockets: list[socket.socket] | None = None
) -> None:
    """Serve the gateway in this process until SIGTERM/SIGINT and the streams' grace are over;
    on `sockets` already bound (a worker) or on host:port."""
    # One format for every line, uvicorn's too, each with the request id (app/logs.py).
    configure_logging(settings)
    app = create_app(settings)
    config = uvicorn_config(app, settings, host, port)
    tune_gc()
    liveness = None
    if settings.health_port is not None:
        liveness = LivenessListener(host, settings.health_port)
    GatewayServer(config, app.state.shutdown, liveness).run(sockets=sockets)


def uvicorn_config(app: FastAPI, settings: Settings, host: str, port: int) -> uvicorn.Config:
    """How uvicorn serves the gateway (also bench/same_process.py, which serves several)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        # httptools with header, header-time, body-time and connection bounds.
        http=bounded_protocol(settings),
        loop=settings.event_loop,
        log_level=settings.log_level,
        # Ours, not uvicorn's: its dictConfig would give its loggers handlers of their own.
        log_config=None,
        # The edge writes one access line per request, with the request id, caller and model
        # (app/logs.py); uvicorn's would be a second line per request without them.
        access_log=False,
        proxy_headers=False,
        server_header=False,
        # Long enough for open streams to use their grace and send their last event.
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) + 5,
    )

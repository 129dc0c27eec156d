"""Every gateway a test talks to, from one factory: a process on a real socket, or the app
in this process.

`GatewayFactory` keys both kinds by their environment (the variables a `GatewayProcess` is
given), so modules that ask for the same configuration share one gateway, and it stops them
all at the end of the session. In-process, the app runs with its lifespan on an event loop in
a thread of its own, and tests talk to it through a synchronous httpx client, so a test moved
off a process keeps its body; its upstream is still the session's mock over a real socket,
through the gateway's own transport, so upstream faults and timeouts are the real ones.
Only the hop from test to gateway is in-process: whole responses, no disconnects, no server
limits. Tests about those take a process. (tests/inprocess.py is the async helper whose upstream
is a recording `MockTransport`, for route behaviour that needs no mock at all.)
"""

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

import anyio
import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from mock_openrouter.process import Closing
from tests.factories import make_settings
from tests.procs import GatewayProcess, gateway_env

# An in-process call that has not finished by then fails the test instead of hanging it (the
# clients of a process gateway had timeouts for the same reason).
CALL_DEADLINE_S = 30.0

EnvKey = frozenset[tuple[str, str]]


def settings_for(upstream_url: str, **env: str) -> Settings:
    """The settings a `GatewayProcess(upstream_url, **env)` would read from its environment."""
    return make_settings(**{k.lower(): v for k, v in gateway_env(upstream_url, **env).items()})


class PortalTransport(httpx.BaseTransport):
    """A synchronous transport into an ASGI app whose event loop runs in a portal thread."""

    def __init__(self, portal: BlockingPortal, app: Any) -> None:
        self._portal = portal
        self._asgi = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()  # a sync stream cannot be read on the loop: hand the app bytes
        # `stream=` keeps the headers as sent (a chunked request stays without Content-Length).
        inner = httpx.Request(
            request.method, request.url, headers=request.headers, stream=httpx.ByteStream(body)
        )
        status, headers, raw = self._portal.call(self._call, inner)
        return httpx.Response(
            status, headers=headers, stream=httpx.ByteStream(raw), request=request
        )

    async def _call(self, request: httpx.Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        with anyio.fail_after(CALL_DEADLINE_S):
            resp = await self._asgi.handle_async_request(request)
            raw = b"".join([chunk async for chunk in resp.aiter_raw()])
        return resp.status_code, resp.headers.raw, raw


class InProcessGateway(Closing):
    """`create_app(settings)` with its lifespan running; `client()` opens a client to it."""

    def __init__(self, settings: Settings) -> None:
        self.app: FastAPI = create_app(settings)
        self._stack = ExitStack()
        try:
            self._portal = self._stack.enter_context(start_blocking_portal("asyncio"))
            lifespan = self.app.router.lifespan_context(self.app)
            state = self._stack.enter_context(self._portal.wrap_async_context_manager(lifespan))
        except BaseException:
            self._stack.close()
            raise
        self._state: Mapping[str, Any] = state or {}

    async def _with_state(self, scope: Any, receive: Any, send: Any) -> None:
        # As a server does: each request gets a copy of the lifespan's state.
        await self.app({**scope, "state": dict(self._state)}, receive, send)

    def client(self, **kwargs: Any) -> httpx.Client:
        transport = PortalTransport(self._portal, self._with_state)
        return httpx.Client(transport=transport, base_url="http://gateway", **kwargs)

    def close(self) -> None:
        self._stack.close()


@contextmanager
def inprocess_client(
    upstream_url: str, *, headers: Mapping[str, str] | None = None, **env: str
) -> Iterator[httpx.Client]:
    """A gateway of its own for one test (a cold model cache, say), with a client to it."""
    settings = settings_for(upstream_url, **env)
    with InProcessGateway(settings) as gateway, gateway.client(headers=headers) as c:
        yield c


class GatewayFactory(Closing):
    """Gateways in front of one upstream, shared by environment, all stopped by `close()`."""

    def __init__(self, upstream_url: str) -> None:
        self.upstream_url = upstream_url
        self._processes: dict[EnvKey, GatewayProcess] = {}
        self._inprocess: dict[EnvKey, InProcessGateway] = {}
        self._own: list[GatewayProcess] = []

    def __call__(self, **env: str) -> GatewayProcess:
        """A gateway process configured by `env`, shared with every caller that gives the same."""
        key = frozenset(env.items())
        if key not in self._processes:
            self._processes[key] = GatewayProcess(self.upstream_url, **env)
        return self._processes[key]

    def own(self, upstream_url: str | None = None, **env: str) -> GatewayProcess:
        """A gateway process for one caller alone, which may signal or stop it."""
        process = GatewayProcess(upstream_url or self.upstream_url, **env)
        self._own.append(process)
        return process

    def inprocess(self, **env: str) -> InProcessGateway:
        """The app in this process, configured as `self(**env)` would be, shared the same way."""
        key = frozenset(env.items())
        if key not in self._inprocess:
            self._inprocess[key] = InProcessGateway(settings_for(self.upstream_url, **env))
        return self._inprocess[key]

    def close(self) -> None:
        with ExitStack() as stack:  # every one is stopped, even if stopping one fails
            for gateway in self._inprocess.values():
                stack.callback(gateway.close)
            for process in [*self._processes.values(), *self._own]:
                stack.callback(process.stop)

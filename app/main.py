"""Application factory. `create_app(settings)` builds the gateway; tests pass their own settings
and, where they want no socket, their own transport.

`app` exists only for `uvicorn app.main:app`; it is built on first access so importing this
module (tests do) needs no environment. A bad configuration exits with one line naming the
variable, not a traceback.
"""

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from app import examples
from app.access import Access
from app.assets.resolver import AssetResolver
from app.config import Settings, get_settings
from app.cors import ExplainedCors
from app.deps import Gateway, State
from app.edge import AiDispatch, EdgeMiddleware
from app.errors import (
    GatewayError,
    InvalidInputError,
    error_response,
    handle_gateway_error,
    unexpected_error_response,
)
from app.jwks import JwksKeys
from app.ledger.configurations import ConfigStore
from app.ledger.service import running_ledger
from app.logs import log_access
from app.metrics import Metrics, multiprocess_dir
from app.metrics import serve as serve_metrics
from app.openapi import ai_openapi_extra, ai_responses, complete_openapi
from app.pipeline import Endpoint, Pipeline, ai_endpoint
from app.quotas.service import running_quotas
from app.routes import AI_ROUTES, ROUTERS
from app.streams.clock import ShutdownCoordinator
from app.upstream.catalog import ModelCatalog
from app.upstream.client import UpstreamClient, build_client, build_transport

EXPOSED_HEADERS = ["X-Request-Id", "X-Generation-Id", "Retry-After", "Content-Range"]


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    path = request.url.path
    if status == 405 and isinstance(exc, HTTPException):
        allow = (exc.headers or {}).get("Allow", "")
        err = GatewayError(
            f"Method {request.method} is not allowed on {path}",
            status_code=405,
            code="METHOD_NOT_ALLOWED",
            next_actions=f"Use {allow}." if allow else None,
            headers={"Allow": allow} if allow else None,
        )
        return error_response(err, path)
    if status == 404:
        err = GatewayError(
            f"Endpoint {path} not found",
            status_code=404,
            code="NOT_FOUND",
            next_actions="Please check the API documentation for available endpoints",
        )
        return error_response(err, path)
    return error_response(GatewayError("Request failed", status_code=status), path)


async def _invalid_request(request: Request, _exc: Exception) -> Response:
    return error_response(InvalidInputError("Validation error: Invalid input"), request.url.path)


async def _unexpected(request: Request, exc: Exception) -> Response:
    return unexpected_error_response(exc, request.url.path)


class GatewayApp(FastAPI):
    """FastAPI with the edge (and CORS, when configured) outside FastAPI's own layers, so the
    AI routes are dispatched straight to their pipeline (app/edge.py says why). Middleware added
    with `app.add_middleware` wraps that dispatch: it sees every request, the AI routes too."""

    settings: Settings
    ai_endpoints: dict[str, Endpoint]
    # Every request's access record once it has ended: the access line and the metrics.
    on_request_end: Callable[[Access], None]

    def openapi(self) -> dict[str, Any]:
        """FastAPI's schema, completed once with what it cannot infer (app/openapi.py)."""
        if not self.openapi_schema:
            self.openapi_schema = complete_openapi(super().openapi(), AI_ROUTES)
        return self.openapi_schema

    def build_middleware_stack(self) -> ASGIApp:
        settings = self.settings
        user_middleware, self.user_middleware = self.user_middleware, []
        try:
            app = super().build_middleware_stack()
        finally:
            self.user_middleware = user_middleware
        direct: dict[str, Endpoint] | None = self.ai_endpoints
        if user_middleware:
            app, direct = AiDispatch(app, self.ai_endpoints), None
            for cls, args, kwargs in reversed(user_middleware):
                app = cls(app, *args, **kwargs)
        app = EdgeMiddleware(
            app,
            max_bytes=settings.max_request_bytes,
            direct=direct,
            on_end=self.on_request_end,
            # Without CORS_ORIGINS no origin is allowed: a preflight is told so (app/cors.py).
            refuse_preflights=not settings.cors_origins,
        )
        if settings.cors_origins:
            # Only when configured: the CORS layer wraps every send, streamed writes included.
            # `*` answers any origin, so never with credentials (the gateway uses no cookies);
            # a listed origin keeps them, as the legacy backend did.
            app = ExplainedCors(
                app,
                allow_origins=settings.cors_origins,
                allow_credentials="*" not in settings.cors_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["*"],
                expose_headers=EXPOSED_HEADERS,
                max_age=600,
            )
        return app


async def _cancelled(task: "asyncio.Task[None]") -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _observed(metrics: Metrics) -> Callable[[Access], None]:
    observe = metrics.observe

    def ended(access: Access) -> None:
        observe(access)
        log_access(access)

    return ended


def create_app(
    settings: Settings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    pipeline: Pipeline | None = None,
) -> FastAPI:
    """The gateway. `transport` replaces the upstream's HTTP transport (tests); `pipeline`
    carries the admission and record hooks every AI call passes (app/pipeline.py), also
    reachable afterwards as `app.state.pipeline`."""
    settings = settings or get_settings()
    pipeline = pipeline or Pipeline()
    shutdown = ShutdownCoordinator(settings.shutdown_grace_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        assets = AssetResolver(settings)
        try:
            async with AsyncExitStack() as stack:
                metrics = app.state.metrics
                if metrics is not None:
                    flusher = asyncio.create_task(metrics.run(), name="metrics")
                    stack.push_async_callback(_cancelled, flusher)
                    # With several workers their parent serves the port (app/cli.py).
                    if settings.metrics_port is not None and multiprocess_dir() is None:
                        stack.callback(serve_metrics(settings.metrics_port, settings.host, metrics))
                configs: ConfigStore | None = None
                if settings.ledger_enabled:
                    # Migrated before the first request; its writer outlives every call, so
                    # the last rows are written after the server has stopped taking calls.
                    ledger = app.state.ledger = await stack.enter_async_context(
                        running_ledger(settings, pipeline)
                    )
                    configs = ConfigStore(ledger.engine)
                    if app.state.metrics is not None:
                        app.state.metrics.ledger = lambda: (ledger.waiting, ledger.dropped)
                upstream_transport = transport or build_transport(settings)
                client = await stack.enter_async_context(build_client(settings, upstream_transport))
                upstream = UpstreamClient(client, settings, upstream_transport)
                catalog = ModelCatalog(upstream, settings.models_cache_ttl_s)
                jwks: JwksKeys | None = None
                if settings.jwt_jwks_url is not None:
                    jwks = JwksKeys(settings)
                    stack.push_async_callback(jwks.aclose)
                gateway = Gateway(settings, upstream, shutdown, catalog, assets, configs, jwks)
                engine = app.state.ledger.engine if settings.ledger_enabled else None
                app.state.quotas = await stack.enter_async_context(
                    running_quotas(settings, pipeline, catalog, engine)
                )
                yield {"gateway": gateway}
        finally:
            await assets.aclose()

    app = GatewayApp(
        title="ai-gateway",
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry looks for a configured provider on every request
        # (three lookups, each reading the environment); the gateway configures none.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        exception_handlers={
            GatewayError: handle_gateway_error,
            HTTPException: _not_found,
            RequestValidationError: _invalid_request,
            Exception: _unexpected,
        },
    )
    app.settings = settings
    # The server (app/cli.py) starts the shutdown grace from its signal handler.
    app.state.shutdown = shutdown
    metrics = app.state.metrics = Metrics() if settings.metrics_enabled else None
    app.on_request_end = log_access if metrics is None else _observed(metrics)
    if metrics is not None:
        metrics.streams = shutdown.open_count
    # Every AI route runs through the pipeline: authenticate → parse → policy → admission →
    # upstream → translate → record (app/pipeline.py); the route table is app/routes.py.
    app.state.pipeline = pipeline
    app.ai_endpoints = {}
    for route in AI_ROUTES:
        endpoint = ai_endpoint(route, pipeline, app.dependency_overrides)
        app.ai_endpoints[route.path] = endpoint
        # The route's body, answers and credentials are documented from the AiRoute: its
        # endpoint reads the raw request, so FastAPI can infer none of them.
        app.add_api_route(
            route.path,
            endpoint,
            methods=["POST"],
            summary=route.summary,
            description=route.handler.__doc__,
            name=route.path,
            status_code=route.answer_status,
            responses=ai_responses(route),
            openapi_extra=ai_openapi_extra(route),
        )
    for router in ROUTERS:
        app.include_router(router)
    if examples.enabled(settings):
        app.include_router(examples.router)
    return app


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as err:
        first = err.errors()[0]
        where = f"{str(first['loc'][0]).upper()}: " if first["loc"] else ""
        message = first["msg"].removeprefix("Value error, ")
        sys.exit(f"ai-gateway: configuration error: {where}{message}")


def __getattr__(name: str) -> Any:
    if name == "app":
        value = create_app(load_settings())
        globals()["app"] = value
        return value
    raise AttributeError(name)

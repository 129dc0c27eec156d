"""The path every AI request takes, in named stages, and the two places features plug in.

    edge            request id, body limit, CORS                       app/edge.py
    authenticate    the caller as a typed Principal                    app/auth.py
    parse/validate  the surface's schema                               the route's handler
    policy          models, limits, assets, token caps                 app/policy.py
    admission       `Pipeline.admission` hooks, before any upstream    Call.admit()
    upstream        one client per process                             app/upstream/
    translate back  JSON, or the SSE relay                             the handler, app/streams/
    record          `Pipeline.record` hooks, once per call             Call.finish()

A route is an `AiRoute` (the table is `app/routes.py`): its handler takes a `Call` and returns
a response; refusals and upstream failures it raises are mapped to its surface's envelope here,
once (`Surface.error`). Admission hooks run when the handler calls `Call.admit()`, after its
policy and before its first upstream call; they refuse by raising a `GatewayError`. Record hooks
get every authenticated call's `Outcome` exactly once: a JSON call's when its answer is ready,
a stream's when the stream ends (done, error, cancelled, timed out).

The endpoints are plain ASGI-level functions, not FastAPI routes: dependency solving and
FastAPI's route machinery were a third of a request's CPU (bench/README.md). The seam tests use
is FastAPI's own: `app.dependency_overrides[require_principal]` and `[get_gateway]` are honoured
here too, called with the request.
"""

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from pydantic import BaseModel
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from app.access import access_var
from app.auth import Principal, require_principal
from app.deps import Gateway, get_gateway
from app.disconnect import CLIENT_CLOSED_REQUEST, until_caller_leaves
from app.errors import (
    JSON_MEDIA_TYPE,
    GatewayError,
    UpstreamError,
    error_response,
    is_openai_path,
    unexpected_error_response,
)
from app.json_shape import Json
from app.policy import PolicyError
from app.upstream.failures import UpstreamFailure
from app.usage import Usage

log = logging.getLogger("app.calls")
prompts_log = logging.getLogger("app.prompts")
# A logged prompt or completion is cut here: an inlined image would be megabytes on one line.
LOGGED_TEXT_MAX = 20_000


def _clipped(text: str) -> str:
    if len(text) <= LOGGED_TEXT_MAX:
        return text
    return f"{text[:LOGGED_TEXT_MAX]}… ({len(text) - LOGGED_TEXT_MAX} more characters)"


OutcomeKind = Literal[
    "ok", "refused", "upstream_error", "cancelled", "stream_error", "timed_out", "error"
]


@dataclass(slots=True)
class Outcome:
    kind: OutcomeKind
    status: int


@dataclass(frozen=True, slots=True)
class Surface:
    """How one surface shows what went wrong: a policy refusal and an upstream failure, each in
    the surface's envelope. Everything else a handler raises is a GatewayError already."""

    refusal: Callable[[PolicyError], GatewayError]
    upstream: Callable[[UpstreamFailure], GatewayError]

    def error(self, exc: Exception) -> GatewayError | None:
        if isinstance(exc, PolicyError):
            return self.refusal(exc)
        if isinstance(exc, UpstreamFailure):
            return self.upstream(exc)
        return None


# An admission hook sees the call and the body about to go upstream (after the policy). It may
# answer at once (None: admitted) and return an awaitable only when it has to wait: a coroutine
# per call was a measurable share of the quotas' cost (bench/README.md).
AdmissionHook = Callable[["Call", Json], Awaitable[None] | None]
RecordHook = Callable[["Call", Outcome], None]


@dataclass
class Pipeline:
    """The extension points of one app (`app.state.pipeline`); both empty by default."""

    admission: list[AdmissionHook] = field(default_factory=list)
    record: list[RecordHook] = field(default_factory=list)


class Call:
    """One authenticated AI call on its way through the stages. It holds no Starlette request:
    a stream keeps its call for its whole life, and the request (its headers parsed) is not
    needed after the handler."""

    __slots__ = (
        "content_type",
        "user_agent",
        "body",
        "principal",
        "gateway",
        "route",
        "_pipeline",
        "stream_end",
        "request_id",
        "started_at",
        "started_monotonic",
        "requested_model",
        "configuration_id",
        "usage",
        "reservation",
        "limit_headers",
        "prompt_chars",
        "access",
    )

    def __init__(
        self,
        content_type: str | None,
        body: bytes,
        principal: Principal,
        gateway: Gateway,
        route: "AiRoute",
        pipeline: Pipeline,
        user_agent: str | None = None,
    ) -> None:
        self.content_type = content_type
        # Some answers differ for one client, named by it (app/legacy/clients.py).
        self.user_agent = user_agent
        self.body = body
        self.principal = principal
        self.gateway = gateway
        self.route = route
        self._pipeline: Pipeline | None = pipeline
        # Set by a stream's relay when it ends; the stream's response then finishes the call.
        self.stream_end: OutcomeKind = "cancelled"
        self.access = access_var.get()  # the request's record (app/access.py): told the outcome
        self.request_id = "-" if self.access is None else self.access.request_id
        self.started_at = time.time()
        self.started_monotonic = time.monotonic()
        # What the record stage needs to know: the model asked for (set by the handler once
        # parsed), and what the upstream reported (app/usage.py).
        self.requested_model: str | None = None
        # The AI configuration the call ran under (app/ledger/configurations.py), if any.
        self.configuration_id: str | None = None
        self.usage = Usage()
        if gateway.settings.log_prompts:
            self.usage.text = []  # the completion, logged when the call ends
        # What an admission hook holds for the call until it is recorded (app/quotas/), and
        # the headers it adds to a successful answer.
        self.reservation: tuple[Any, ...] | None = None
        self.limit_headers: list[tuple[bytes, bytes]] | None = None
        # The upstream body's prompt characters, when the policy counted them (app/policy.py).
        self.prompt_chars: int | None = None

    def take_body(self) -> bytes:
        """The request body, handed over once: a stream keeps its call for its whole life, and
        must not keep the prompt with it."""
        body, self.body = self.body, b""
        return body

    async def admit(self, upstream_body: Json) -> None:
        """The admission stage: every hook may refuse (raise) before anything goes upstream."""
        assert self._pipeline is not None
        if self.usage.text is not None:  # LOG_PROMPTS: what goes upstream, on every surface
            prompts_log.info("prompt: %s", _clipped(orjson.dumps(upstream_body).decode()))
        for hook in self._pipeline.admission:
            waiting = hook(self, upstream_body)
            if waiting is not None:
                await waiting

    def finish(self, outcome: Outcome) -> None:
        """The record stage, once per call whatever happens after."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            if self.usage.text is not None:
                prompts_log.info("completion: %s", _clipped("".join(self.usage.text)))
            access = self.access
            if access is not None:
                access.usage = self.usage
                access.model = self.requested_model
                access.outcome = outcome.kind
            for hook in pipeline.record:
                hook(self, outcome)

    def end_stream(self, kind: OutcomeKind) -> None:
        """The relay's last word, said before it closes the upstream: the call is recorded now,
        so a caller who has read the last event and asks for its generation at once finds it."""
        self.stream_end = kind
        self.finish(Outcome(kind, 200))

    def close_stream(self) -> None:
        """The response is over; a stream whose relay never ran is recorded here."""
        self.finish(Outcome(self.stream_end, 200))


Handler = Callable[[Call], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class AiRoute:
    path: str
    handler: Handler
    surface: Surface
    summary: str
    request_model: type[BaseModel] | None = None
    # What /openapi.json shows of the route (app/openapi.py); the request path never reads these.
    request_schema: Mapping[str, Any] | None = None  # the body, where no model parses it
    answer_schema: Mapping[str, Any] | None = None  # the JSON answer
    stream_event: Mapping[str, Any] | None = None  # one Server-Sent Event, where `stream` is asked
    responses: Mapping[int | str, Mapping[str, Any]] = field(default_factory=dict)  # the errors
    answer_status: int = 200  # 202 for a job accepted (app/v1/videos.py)


async def read_body(request: Request) -> bytes:
    """The request body, not cached on `request`: Starlette keeps the request object alive for
    as long as its response runs, so a cached body (the whole prompt) would be held for the
    length of every stream."""
    return b"".join([chunk async for chunk in request.stream()])


def _outcome_of(exc: Exception, status: int) -> OutcomeKind:
    if isinstance(exc, UpstreamFailure | UpstreamError):
        return "timed_out" if status == 504 else "upstream_error"
    return "refused"


def ai_endpoint(route: AiRoute, pipeline: Pipeline, overrides: Mapping[Any, Any]) -> Endpoint:
    """The endpoint that runs `route` through the pipeline; it renders every failure itself,
    in the surface's envelope, so it needs no exception layer around it."""
    path, surface = route.path, route.surface
    surface_name = "openai" if is_openai_path(path) else "legacy"

    async def endpoint(request: Request) -> Response:
        call: Call | None = None
        kind: OutcomeKind
        access = access_var.get()
        if access is not None:
            access.route, access.surface = path, surface_name
        try:
            principal: Principal = await overrides.get(require_principal, require_principal)(
                request
            )
            if access is not None:
                access.principal = principal.id
            gateway: Gateway = await overrides.get(get_gateway, get_gateway)(request)
            body = await read_body(request)
            content_type = request.headers.get("content-type")
            user_agent = request.headers.get("user-agent")
            call = Call(content_type, body, principal, gateway, route, pipeline, user_agent)
            response = await until_caller_leaves(request, route.handler(call), path)
        except ClientDisconnect:
            # Gone before the whole body arrived (or cut off by BODY_READ_TIMEOUT_S): nothing
            # went upstream, and there is no one to answer.
            log.info("caller left %s before sending the whole body", path)
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        except Exception as exc:  # the boundary: every failure in the surface's envelope
            err = exc if isinstance(exc, GatewayError) else surface.error(exc)
            if err is None:
                response, kind = unexpected_error_response(exc, path), "error"
            else:
                response = error_response(err, path)
                kind = _outcome_of(exc, response.status_code)
            if call is not None:
                call.finish(Outcome(kind, response.status_code))
            return response
        if call is not None:
            if call.limit_headers is not None:
                response.raw_headers.extend(call.limit_headers)
            if not getattr(response, "finishes_call", False):
                kind = "cancelled" if response.status_code == CLIENT_CLOSED_REQUEST else "ok"
                call.finish(Outcome(kind, response.status_code))
        return response

    return endpoint


def generation_header(upstream_headers: Mapping[str, str]) -> dict[str, str]:
    """OpenRouter's `X-Generation-Id`, passed on to the caller when the upstream sent one."""
    generation = upstream_headers.get("x-generation-id")
    return {"X-Generation-Id": generation} if generation else {}


def json_response(obj: object, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(obj), media_type=JSON_MEDIA_TYPE, headers=headers)

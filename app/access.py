"""What one request did, gathered while it runs and told once when it ends: the access log line
(app/logs.py) and the metrics (app/metrics.py) both read it.

The edge (app/edge.py) makes it and puts it in `access_var` for the request's task; the stages
that know something fill it in: the pipeline the caller and the route, the record stage the
model, tokens and cost, the upstream client the time spent waiting on OpenRouter and its
retries, the quotas which limit refused. Plain attributes on one object, so filling it costs
next to nothing on the request path, and nothing reads it until the response has ended.
"""

import contextvars
import time

from app.usage import Usage


class Access:
    __slots__ = (
        "request_id",
        "client",
        "method",
        "path",
        "route",
        "surface",
        "principal",
        "model",
        "status",
        "outcome",
        "started",
        "ended",
        "upstream_s",
        "retries",
        "usage",
        "limit",
    )

    def __init__(self, request_id: str, method: str, path: str, client: str | None = None) -> None:
        self.request_id = request_id
        self.client = client  # the peer's address (a proxy's, behind one)
        self.method = method
        self.path = path
        self.route: str | None = None  # an AI route's path, or the matched route's template
        self.surface = "other"  # "legacy", "openai" for AI calls
        self.principal: str | None = None
        self.model: str | None = None
        self.status = 0
        self.outcome: str | None = None  # the record stage's outcome, for AI calls
        self.started = time.monotonic()
        self.ended = self.started
        self.upstream_s = 0.0  # waiting on the upstream: a JSON answer, a stream's reads
        self.retries = 0
        self.usage: Usage | None = None  # an AI call's tokens, cost, first token
        self.limit: str | None = None  # the quota that refused the call, if one did

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    @property
    def overhead_s(self) -> float:
        """The gateway's own time: the request's, less what it spent waiting on the upstream."""
        return max(0.0, self.seconds - self.upstream_s)


# The one context variable a request sets (each `set` copies the task's context mapping, which a
# held stream keeps for its life): its request id and caller are read from here too.
access_var: contextvars.ContextVar[Access | None] = contextvars.ContextVar("access", default=None)


def request_id() -> str:
    """The serving request's id, or "-" outside any request."""
    access = access_var.get()
    return "-" if access is None else access.request_id

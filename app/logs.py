"""The gateway's logs: one format for every line (LOG_FORMAT=json|text), the request id on every
line logged while a request is served, and one access line per request.

The request id comes from the request's access record (`access_var`, app/access.py), which holds
for the request's task and the tasks it starts, so a line logged anywhere below the edge carries
it; a line logged outside any request shows `-`. uvicorn's own access log is off
(app/server.py): its line has neither the request id nor the caller, and a second line per
request is CPU for nothing.

Never in a line: a key, a token or a prompt. The access line names the principal by id, the
route by its template and the model by name; prompts are logged only with LOG_PROMPTS
(app/legacy/routes.py, app/v1/routes.py).
"""

import logging
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from app.access import Access, request_id

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
access_log = logging.getLogger("app.access")


class RequestIdFilter(logging.Filter):
    """Puts the serving request's id on every record (on the handler: every logger's lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request id, message, and an access
    line's fields at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            # The type only: a message may quote user data (app/errors.py does the same).
            line["error"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return orjson.dumps(line).decode()


def configure(level: str, fmt: Literal["json", "text"]) -> None:
    """The root logger's one handler, on stderr; uvicorn's loggers propagate to it."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs every request at INFO: a line per upstream call is noise and CPU.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_log = logging.getLogger(name)
        uvicorn_log.handlers.clear()
        uvicorn_log.propagate = True


def access_fields(access: Access) -> dict[str, Any]:
    usage = access.usage
    fields: dict[str, Any] = {
        "client": access.client,
        "method": access.method,
        "path": access.path,
        "route": access.route,
        "status": access.status,
        "latency_ms": round(access.seconds * 1000, 1),
        "principal": access.principal,
        "surface": access.surface,
    }
    if usage is not None:
        fields["model"] = usage.served_model or access.model
        fields["outcome"] = access.outcome
        fields["prompt_tokens"] = usage.prompt_tokens
        fields["completion_tokens"] = usage.completion_tokens
        fields["cost_usd"] = usage.cost_usd
        fields["upstream_ms"] = round(access.upstream_s * 1000, 1)
    if access.limit is not None:
        fields["refused_by"] = access.limit
    return fields


def log_access(access: Access) -> None:
    """The request's access line, at info (nothing is built when info is off)."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    fields = access_fields(access)
    text = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
    access_log.info("%s", text, extra={"fields": fields, "request_id": access.request_id})

"""The record hook: a call and its outcome become one queued row, and the row becomes the
table's values (in app/ledger/inserts.py's column order) in the writer's task.

The hook runs on the request path for every call, so it only reads attributes into a tuple;
timestamps, the surface and milliseconds are worked out later, off that path.
"""

import time
from datetime import UTC, datetime

from app.errors import is_openai_path
from app.ledger.inserts import Columns
from app.ledger.writer import LedgerWriter, Row
from app.pipeline import Call, Outcome, RecordHook


def record_hook(writer: LedgerWriter) -> RecordHook:
    put = writer.put

    def record(call: Call, outcome: Outcome) -> None:
        ended = time.monotonic()
        usage, principal = call.usage, call.principal
        put(
            (
                call.request_id,
                usage.generation_id,
                call.started_at,
                principal.id,
                principal.role,
                principal.kind,
                call.route.path,
                call.requested_model,
                usage.served_model,
                usage.provider,
                outcome.status,
                outcome.kind,
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.reasoning_tokens,
                usage.cached_tokens,
                usage.image_count,
                usage.cost_usd,
                call.started_monotonic,
                ended,
                usage.first_token_at,
                call.configuration_id,
            )
        )

    return record


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def row_columns(row: Row) -> Columns:
    """The `ai_calls` values of one queued row, in `inserts.COLUMNS` order (in the writer's
    task)."""
    (
        request_id,
        generation_id,
        started_at,
        user_id,
        role,
        auth_kind,
        route,
        requested_model,
        served_model,
        provider,
        status,
        outcome,
        prompt_tokens,
        completion_tokens,
        reasoning_tokens,
        cached_tokens,
        image_count,
        cost_usd,
        started,
        ended,
        first_token_at,
        config_id,
    ) = row
    return (
        request_id,
        generation_id,
        datetime.fromtimestamp(started_at, UTC),
        user_id,
        role,
        auth_kind,
        "v1" if is_openai_path(route) else "legacy",
        route,
        requested_model,
        served_model,
        provider,
        status,
        outcome,
        prompt_tokens,
        completion_tokens,
        reasoning_tokens,
        cached_tokens,
        image_count,
        cost_usd,
        _ms(ended - started),
        None if first_token_at is None else _ms(first_token_at - started),
        config_id,
    )

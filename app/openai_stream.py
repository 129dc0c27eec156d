"""The `/api/v1` stream: upstream events passed on as they arrive, in order, byte for byte.

Comments are dropped (our own pings replace them); `data: [DONE]` is written only after the
upstream's own `[DONE]`, from the one constant below; a failure at any point becomes one
OpenAI-style error chunk, which the `openai` SDKs raise as an exception, and no `[DONE]`.
"""

from typing import Any

import orjson
from sse_starlette import ServerSentEvent

from app.config import Settings
from app.openai_errors import to_openai_error
from app.upstream import UpstreamFailure

DONE_EVENT = ServerSentEvent(data="[DONE]", sep="\n")


def error_chunk(message: str, kind: str = "api_error", code: str | None = None) -> ServerSentEvent:
    error = {"message": message, "type": kind, "code": code}
    return ServerSentEvent(data=orjson.dumps({"error": error}).decode(), sep="\n")


class OpenAITranslator:
    def __init__(self, settings: Settings) -> None:
        self._secret = settings.openrouter_api_key.get_secret_value()

    def chunk(self, chunk: dict[str, Any], raw: str) -> list[ServerSentEvent]:  # noqa: ARG002
        return [ServerSentEvent(data=raw, sep="\n")]

    def done(self) -> list[ServerSentEvent]:
        return [DONE_EVENT]

    def fault(self, message: str) -> ServerSentEvent:
        return error_chunk(message, code="stream_failed")

    def failure(self, failure: UpstreamFailure) -> ServerSentEvent:
        err = to_openai_error(failure, self._secret)
        return error_chunk(err.message, code=err.code)

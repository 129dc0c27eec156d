"""The `/api/v1` stream: upstream events passed on as they arrive, in order, byte for byte.

Comments are dropped (our own pings replace them); `data: [DONE]` is written only after the
upstream's own `[DONE]`, from the one constant (`app/streams/relay.py`); a failure at any point
becomes one OpenAI-style error chunk, which the `openai` SDKs raise as an exception, and no
`[DONE]`.
"""

from typing import Any

from app.streams.relay import DONE
from app.streams.response import json_frame, text_frame
from app.upstream.failures import UpstreamFailure
from app.v1.errors import to_openai_error

DONE_EVENT = text_frame(DONE)


def error_chunk(message: str, kind: str = "api_error", code: str | None = None) -> bytes:
    return json_frame({"error": {"message": message, "type": kind, "code": code}})


class OpenAITranslator:
    __slots__ = ()

    def chunk(self, chunk: dict[str, Any], raw: str) -> list[bytes]:  # noqa: ARG002
        return [text_frame(raw)]

    def done(self) -> list[bytes]:
        return [DONE_EVENT]

    def fault(self, message: str) -> bytes:
        return error_chunk(message, code="stream_failed")

    def failure(self, failure: UpstreamFailure) -> bytes:
        err = to_openai_error(failure)
        return error_chunk(err.message, code=err.code)

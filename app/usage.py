"""What one call used, as the upstream reported it: read from a JSON answer, or from a stream's
chunks as they pass (its first chunk names the generation, its last carries the usage).

No prompt or completion text is kept: ids, model names, token counts and OpenRouter's own
`usage.cost` only. The record stage (app/pipeline.py) hands this to whatever records calls.
"""

import time
from typing import Any

from app.json_shape import Json


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class Usage:
    __slots__ = (
        "generation_id",
        "served_model",
        "provider",
        "prompt_tokens",
        "completion_tokens",
        "reasoning_tokens",
        "cached_tokens",
        "cost_usd",
        "image_count",
        "first_token_at",
        "text",
        "_seen_chunk",
    )

    def __init__(self) -> None:
        self.generation_id: str | None = None
        self.served_model: str | None = None
        self.provider: str | None = None
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.reasoning_tokens: int | None = None
        self.cached_tokens: int | None = None
        self.cost_usd: float | None = None
        self.image_count: int | None = None
        self.first_token_at: float | None = None  # time.monotonic() of the first stream chunk
        # The completion's text, collected only when LOG_PROMPTS asks for it (app/pipeline.py).
        self.text: list[str] | None = None
        self._seen_chunk = False

    def read_answer(self, answer: Json) -> None:
        """A whole JSON answer (chat, image or embeddings)."""
        self._names(answer)
        usage = answer.get("usage")
        if isinstance(usage, dict):
            self._usage(usage)
        choices = answer.get("choices")
        if isinstance(choices, list):
            images = 0
            for choice in choices:
                message = choice.get("message") if isinstance(choice, dict) else None
                found = message.get("images") if isinstance(message, dict) else None
                images += len(found) if isinstance(found, list) else 0
                if self.text is not None and isinstance(message, dict):
                    self._collect(message.get("content"))
            self.image_count = images or None

    def read_chunk(self, chunk: Json) -> None:
        """One stream chunk; cheap, since it runs for every chunk of every stream."""
        if not self._seen_chunk:
            self._seen_chunk = True
            self.first_token_at = time.monotonic()
            self._names(chunk)
        usage = chunk.get("usage")
        if usage is not None and isinstance(usage, dict):
            self._usage(usage)
        if self.text is not None:
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") if isinstance(choice, dict) else None
                if isinstance(delta, dict):
                    self._collect(delta.get("content"))

    def _collect(self, content: object) -> None:
        if isinstance(content, str) and self.text is not None:
            self.text.append(content)

    def _names(self, body: Json) -> None:
        self.generation_id = self.generation_id or _str(body.get("id"))
        self.served_model = self.served_model or _str(body.get("model"))
        self.provider = self.provider or _str(body.get("provider"))

    def _usage(self, usage: Json) -> None:
        self.prompt_tokens = _int(usage.get("prompt_tokens"))
        self.completion_tokens = _int(usage.get("completion_tokens"))
        self.cost_usd = _number(usage.get("cost"))
        completion = usage.get("completion_tokens_details")
        if isinstance(completion, dict):
            self.reasoning_tokens = _int(completion.get("reasoning_tokens"))
        prompt = usage.get("prompt_tokens_details")
        if isinstance(prompt, dict):
            self.cached_tokens = _int(prompt.get("cached_tokens"))

"""Request policy beyond the legacy schema: prompt size and message count.

These limits did not exist in the legacy API; they keep one caller from pinning the gateway's
memory or spending the key on a runaway prompt. Counts are of text the model reads (string
content and text parts); binary parts are bounded by the request-body limit instead.
"""

from collections.abc import Iterable

from app.config import Settings
from app.errors import InvalidInputError
from app.schemas.legacy import ChatMessage, TextPart


def prompt_chars(messages: Iterable[ChatMessage]) -> int:
    total = 0
    for message in messages:
        content = message.content
        if isinstance(content, str):
            total += len(content)
        elif content is not None:
            total += sum(len(p.text) for p in content if isinstance(p, TextPart))
    return total


def check_prompt_limits(messages: list[ChatMessage], settings: Settings) -> None:
    if len(messages) > settings.max_messages:
        raise InvalidInputError(
            f"Too many messages: {len(messages)} (this gateway allows {settings.max_messages}).",
            next_actions="Trim the conversation history, or raise MAX_MESSAGES on the gateway.",
        )
    chars = prompt_chars(messages)
    if chars > settings.max_prompt_chars:
        raise InvalidInputError(
            f"Prompt too long: {chars} characters (this gateway allows "
            f"{settings.max_prompt_chars}).",
            next_actions="Shorten the prompt, or raise MAX_PROMPT_CHARS on the gateway.",
        )

"""Request policy, one module for both surfaces: every rule is decided here, once.

Rules run on the *upstream* body (after the legacy translation, or as the OpenAI-compatible
client sent it), so the two surfaces cannot drift apart:
- `ALLOWED_MODELS` globs (empty: all) for `model` and each entry of `models`;
- prompt size and message count (limits the legacy API never had: they keep one caller from
  pinning memory or spending the key on a runaway prompt; text the model reads is counted,
  binary parts are bounded by the body limit instead);
- the remote-asset policy on every image and file URL (`app/assets.py`);
- on `/api/v1` only: `max_tokens`/`max_completion_tokens` capped (the legacy schema refuses
  over-cap values instead, as the legacy API did) and `user` set to the caller, so nobody
  spends under someone else's name (the legacy body never carried `user`; adding it would
  break its byte-for-byte contract).
Each surface renders a `PolicyError` in its own envelope.
"""

import asyncio
from fnmatch import fnmatchcase
from typing import Any, Literal, Protocol

from app.assets import AssetError
from app.config import Settings

Json = dict[str, Any]
Rule = Literal["model", "limits", "asset"]
Surface = Literal["legacy", "openai"]


class PolicyError(Exception):
    def __init__(self, rule: Rule, message: str, next_actions: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.next_actions = next_actions


class AssetResolving(Protocol):
    async def resolve(self, url: str, kind: Literal["image", "file"]) -> str: ...


def model_allowed(model: str, settings: Settings) -> bool:
    patterns = settings.allowed_models
    return not patterns or any(fnmatchcase(model, p) for p in patterns)


def check_models(body: Json, settings: Settings) -> None:
    if not settings.allowed_models:
        return
    candidates = [body.get("model")]
    fallbacks = body.get("models")
    if isinstance(fallbacks, list):
        candidates.extend(fallbacks)
    named = [m for m in candidates if m is not None]
    if not named:
        raise PolicyError("model", "A model is required on this gateway (ALLOWED_MODELS is set).")
    for model in named:
        if not isinstance(model, str) or not model_allowed(model, settings):
            raise PolicyError(
                "model",
                f"Model {model} is not enabled. Please contact your administrator to enable "
                "this model.",
            )


def prompt_chars(messages: list[Any]) -> int:
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    total += len(part["text"])
    return total


def check_prompt_limits(messages: list[Any], settings: Settings) -> None:
    if len(messages) > settings.max_messages:
        raise PolicyError(
            "limits",
            f"Too many messages: {len(messages)} (this gateway allows {settings.max_messages}).",
            "Trim the conversation history, or raise MAX_MESSAGES on the gateway.",
        )
    chars = prompt_chars(messages)
    if chars > settings.max_prompt_chars:
        raise PolicyError(
            "limits",
            f"Prompt too long: {chars} characters (this gateway allows "
            f"{settings.max_prompt_chars}).",
            "Shorten the prompt, or raise MAX_PROMPT_CHARS on the gateway.",
        )


def cap_tokens(body: Json, settings: Settings) -> None:
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            body[key] = min(value, settings.max_completion_tokens)


async def resolve_assets(messages: list[Any], assets: AssetResolving) -> None:
    """Replace every image and file URL in the messages by what the asset policy allows."""
    jobs: list[tuple[Json, str, Literal["image", "file"]]] = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else ():
            if not isinstance(part, dict):
                continue
            if part.get("type") == "image_url" and isinstance(part.get("image_url"), dict):
                jobs.append((part["image_url"], "url", "image"))
            elif part.get("type") == "file" and isinstance(part.get("file"), dict):
                jobs.append((part["file"], "file_data", "file"))
    jobs = [job for job in jobs if isinstance(job[0].get(job[1]), str)]
    if not jobs:
        return
    try:
        resolved = await asyncio.gather(*(assets.resolve(h[k], kind) for h, k, kind in jobs))
    except AssetError as err:
        raise PolicyError("asset", err.message) from err
    for (holder, key, _kind), url in zip(jobs, resolved, strict=True):
        holder[key] = url


async def apply_policy(
    body: Json, *, user_id: str, settings: Settings, assets: AssetResolving, surface: Surface
) -> None:
    """Check and adjust an upstream-bound chat body in place; raise PolicyError to refuse."""
    check_models(body, settings)
    messages = body.get("messages")
    if isinstance(messages, list):
        check_prompt_limits(messages, settings)
    if surface == "openai":
        cap_tokens(body, settings)
        body["user"] = user_id
    if isinstance(messages, list):
        await resolve_assets(messages, assets)

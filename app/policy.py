"""Request policy, one module for both surfaces: every rule is decided here, once.

Rules run on the *upstream* body (after the legacy translation, or as the OpenAI-compatible
client sent it), so the two surfaces cannot drift apart:
- `ALLOWED_MODELS` globs (empty: all) for `model` and each entry of `models`;
- prompt size and message count (limits the legacy API never had: they keep one caller from
  pinning memory or spending the key on a runaway prompt; every string of the body counts,
  tools, names and plugin prompts included, except asset data, which the body limit bounds);
- the remote-asset policy on every URL a message part can carry, and refusal of a URL in
  any part the policy does not know (`app/assets/parts.py`, `app/assets/resolver.py`);
- on `/api/v1` only: `max_tokens`, `max_completion_tokens` and `reasoning.max_tokens` capped in
  any number form, a non-number refused, a missing bound set to the cap (the legacy schema
  refuses over-cap values instead, as the legacy API did) and `user` set to the caller, so nobody
  spends under someone else's name (the legacy body never carried `user`; adding it would
  break its byte-for-byte contract).
Each surface renders a `PolicyError` in its own envelope.
"""

from fnmatch import fnmatchcase
from typing import Any, Literal

from app.assets.parts import AssetResolving, resolve_parts
from app.assets.resolver import AssetError
from app.config import Settings
from app.json_shape import Json

Rule = Literal["model", "limits", "asset", "invalid"]
Surface = Literal["legacy", "openai"]


class PolicyError(Exception):
    def __init__(self, rule: Rule, message: str, next_actions: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.next_actions = next_actions


def model_allowed(model: str, settings: Settings) -> bool:
    patterns = settings.allowed_models
    return not patterns or any(fnmatchcase(model, p) for p in patterns)


def model_not_enabled(model: object) -> PolicyError:
    """The legacy backend's refusal of a model, for the allow-list and for AI_REQUIRE_CONFIG."""
    return PolicyError(
        "model",
        f"Model {model} is not enabled. Please contact your administrator to enable this model.",
    )


def check_models(body: Json, settings: Settings) -> None:
    fallbacks = body.get("models")
    if fallbacks is not None and not isinstance(fallbacks, list):
        # Anything else would pass the allow-list unread, and mean nothing to the upstream.
        raise PolicyError("model", "`models` must be an array of model ids.")
    if not settings.allowed_models:
        return
    candidates = [body.get("model"), *(fallbacks or ())]
    named = [m for m in candidates if m is not None]
    if not named:
        raise PolicyError("model", "A model is required on this gateway (ALLOWED_MODELS is set).")
    for model in named:
        if not isinstance(model, str) or not model_allowed(model, settings):
            raise model_not_enabled(model)


# Where a request carries binary data (data: URLs, base64 audio) or an asset URL, not text the
# model reads (the body limit and the asset policy bound those), and short identifiers, which
# would only make the count differ from the text a caller sees in their prompt.
UNCOUNTED_KEYS = frozenset(
    {"url", "file_data", "file_url", "data", "image_url", "video_url"}
    | {"model", "role", "type", "id", "tool_call_id", "detail", "format", "user"}
)


def prompt_chars(body: Any) -> int:
    """Characters of the body's string values, wherever they are: message text, names, tool
    descriptions and schemas, tool-call arguments, object content, response formats and plugin
    prompts all reach the model or the upstream. Asset data and identifiers are not counted."""
    total = 0
    stack = [body]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else ((None, v) for v in node)
        for key, value in items:
            if isinstance(value, str):
                total += 0 if key in UNCOUNTED_KEYS else len(value)
            elif isinstance(value, dict | list):
                stack.append(value)
    return total


def check_message_count(messages: list[Any], settings: Settings) -> None:
    if len(messages) > settings.max_messages:
        raise PolicyError(
            "limits",
            f"Too many messages: {len(messages)} (this gateway allows {settings.max_messages}).",
            "Trim the conversation history, or raise MAX_MESSAGES on the gateway.",
        )


def check_prompt_limits(body: Json, settings: Settings) -> int:
    """The body's prompt characters, refused past MAX_PROMPT_CHARS."""
    messages = body.get("messages")
    if isinstance(messages, list):
        check_message_count(messages, settings)
    chars = prompt_chars(body)
    if chars > settings.max_prompt_chars:
        raise PolicyError(
            "limits",
            f"Prompt too long: {chars} characters (this gateway allows "
            f"{settings.max_prompt_chars}).",
            "Shorten the prompt, or raise MAX_PROMPT_CHARS on the gateway.",
        )
    return chars


TOKEN_FIELDS = ("max_tokens", "max_completion_tokens")


def cap_tokens(body: Json, settings: Settings) -> None:
    """Cap every token bound at MAX_COMPLETION_TOKENS, whatever number form it takes, and refuse
    one that is not a number. A request that sets neither bound gets `max_tokens` = the cap:
    a cap that a caller escapes by leaving the field out bounds nothing (OpenRouter checks
    `max_tokens` against the account's balance, so a low balance refuses such calls with 402
    where the model's own default might have fitted; the operator sets the cap to suit)."""
    cap = settings.max_completion_tokens
    holders: list[tuple[Json, str, str]] = [(body, key, key) for key in TOKEN_FIELDS]
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict):
        holders.append((reasoning, "max_tokens", "reasoning.max_tokens"))
    for holder, key, name in holders:
        value = holder.get(key)
        if value is not None:
            holder[key] = _capped(value, cap, name)
    if all(body.get(key) is None for key in TOKEN_FIELDS):
        body["max_tokens"] = cap


def _capped(value: object, cap: int, name: str) -> int:
    if isinstance(value, float) and value.is_integer():
        return min(cap, int(value)) if value < cap else cap
    if isinstance(value, int) and not isinstance(value, bool):
        return min(value, cap)
    raise PolicyError("invalid", f"`{name}` must be a whole number of tokens.")


async def resolve_assets(messages: list[Any], assets: AssetResolving, settings: Settings) -> None:
    """Police every URL-bearing part (app/assets/parts.py): each URL resolved in place, or 400."""
    try:
        await resolve_parts(messages, assets, settings)
    except AssetError as err:
        raise PolicyError("asset", err.message) from err


async def apply_policy(
    body: Json, *, user_id: str, settings: Settings, assets: AssetResolving, surface: Surface
) -> int:
    """Check and adjust an upstream-bound chat body in place; raise PolicyError to refuse.
    Returns the prompt's characters (the quotas' estimate reuses them)."""
    check_models(body, settings)
    chars = check_prompt_limits(body, settings)
    messages = body.get("messages")
    if surface == "openai":
        cap_tokens(body, settings)
        body["user"] = user_id
    if isinstance(messages, list):
        await resolve_assets(messages, assets, settings)
    return chars

"""A call's worst case, reserved at admission: tokens in and out, and what they cost.

- In: every character the policy counts (app/policy.py `prompt_chars`) as a token, plus a few
  per message for the chat format. No tokenizer makes more than one token of a character of
  text, so this bounds the prompt whatever the model; images and files are not counted (their
  price is not in tokens of the body).
- Out: the completion bound the upstream will obey: `max_tokens` / `max_completion_tokens`
  (both surfaces set one, capped, before admission), plus `reasoning.max_tokens`; none for
  embeddings.
- USD: those tokens at the model's catalog prices, plus its per-request price. A model the
  catalog does not list (a variant, a new id) is priced at the catalog's dearest prices, so an
  unknown price never reserves too little.

This runs on every call, so it is compiled with mypyc where there is a C compiler (setup.py),
and imports only the standard library and the other compiled modules: the catalog's prices and
the policy's character count come in as functions, and fetching the prices when there are none
is app/quotas/estimate.py's.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from app.quotas.limits import Need

# app/json_shape.py's `Json`, written out: a compiled module's build cannot import that one
# (it imports orjson).
Json = dict[str, Any]

TOKENS_PER_MESSAGE: Final = 8
# How long the prices last looked up serve without asking the catalog whether they are still
# fresh (a call's need is a bound; a price change reaches it within this).
PRICES_RECHECK_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class Price:
    prompt: float  # USD per token
    completion: float
    request: float  # USD per call


Prices = tuple[dict[str, Price], Price]  # by model id; the dearest of each
NOTHING: Final[Need] = (0, 0.0)


def _float(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) and number > 0 else 0.0


def build_prices(models: list[Json]) -> Prices:
    table: dict[str, Price] = {}
    for model in models:
        pricing = model.get("pricing")
        if isinstance(model.get("id"), str) and isinstance(pricing, dict):
            table[model["id"]] = Price(
                _float(pricing.get("prompt")),
                _float(pricing.get("completion")),
                _float(pricing.get("request")),
            )
    dearest = Price(
        max((p.prompt for p in table.values()), default=0.0),
        max((p.completion for p in table.values()), default=0.0),
        max((p.request for p in table.values()), default=0.0),
    )
    return table, dearest


def tokens_of(body: Json, default_completion: int, chars: int) -> tuple[int, int]:
    """(prompt, completion) tokens at most, for a body of `chars` prompt characters."""
    messages = body.get("messages")
    prompt = chars
    if not isinstance(messages, list):  # embeddings: `input`, nothing generated
        return prompt, 0
    prompt += TOKENS_PER_MESSAGE * len(messages)
    # The larger bound, each an int but not a bool (which is an int too).
    completion = -1
    bound = body.get("max_tokens")
    if type(bound) is int and bound >= 0:
        completion = bound
    bound = body.get("max_completion_tokens")
    if type(bound) is int and bound > completion:
        completion = bound
    if completion < 0:
        completion = default_completion
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict):
        thinking = reasoning.get("max_tokens")
        if type(thinking) is int and thinking > 0:
            completion += thinking
    return prompt, completion


def price_of(prices: Prices, model: object) -> Price:
    table, dearest = prices
    if isinstance(model, str):
        base = model.partition("?")[0]
        found = table.get(base) or table.get(base.rpartition(":")[0])
        if found is not None:
            return found
    return dearest


class Needs:
    """Each call's need, at the prices `prices_now` gives (None: there are none yet, or they
    are stale and being fetched)."""

    def __init__(
        self,
        prices_now: Callable[[], Prices | None],
        count: Callable[[Json], int],
        default_completion: int,
    ) -> None:
        self._prices_now = prices_now
        self._count = count  # a body's prompt characters, when the policy has not counted them
        self._default_completion = default_completion
        # The prices last looked up, each model id's price in them, and until when (wall
        # clock) they serve without asking for them again.
        self._prices: Prices | None = None
        self._seen: dict[str, Price] = {}
        self._recheck_at = 0.0

    def _bounds(self, body: Json, chars: int | None) -> tuple[int, int]:
        """(prompt, completion) tokens at most, the prompt counted here if the policy did not."""
        counted = self._count(body) if chars is None else chars
        return tokens_of(body, self._default_completion, counted)

    def tokens(self, body: Json, chars: int | None) -> Need:
        """The call's tokens at most, and no USD (when there are no prices)."""
        prompt, completion = self._bounds(body, chars)
        return prompt + completion, 0.0

    def need_now(
        self, body: Json, chars: int | None, tokens: bool, usd: bool, now: float = 0.0
    ) -> Need | None:
        """The call's need (counting its tokens, its USD, as the limits do), or None when the
        prices must be fetched first. With `now` (the wall clock), prices looked up less than
        PRICES_RECHECK_S ago serve as they are."""
        if not (tokens or usd):
            return NOTHING
        if not usd:
            return self.tokens(body, chars)
        if now and now < self._recheck_at:
            seen = self._seen
        else:
            prices = self._prices_now()
            if prices is None:
                return None
            if prices is not self._prices:
                self._prices, self._seen = prices, {}
            self._recheck_at = now + PRICES_RECHECK_S if now else 0.0
            seen = self._seen
        prompt, completion = self._bounds(body, chars)
        model = body.get("model")
        price = seen.get(model) if type(model) is str else None
        if price is None:
            price = self._price(model)
        usd_need = prompt * price.prompt + completion * price.completion + price.request
        return prompt + completion, usd_need

    def _price(self, model: object) -> Price:
        assert self._prices is not None
        price = price_of(self._prices, model)
        if isinstance(model, str) and len(self._seen) < 10_000:  # ids are the caller's: bounded
            self._seen[model] = price
        return price

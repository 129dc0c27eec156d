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
  unknown price never reserves too little. Without any catalog yet, no USD is reserved: the
  spend limits then count settled calls only, and a warning says so.
"""

import logging
import math
from dataclasses import dataclass

from app.json_shape import Json
from app.policy import prompt_chars
from app.quotas.limits import Need, new
from app.upstream.catalog import ModelCatalog
from app.upstream.failures import UpstreamFailure

log = logging.getLogger("app.quotas")

TOKENS_PER_MESSAGE = 8


@dataclass(frozen=True, slots=True)
class Price:
    prompt: float  # USD per token
    completion: float
    request: float  # USD per call


Prices = tuple[dict[str, Price], Price]  # by model id; the dearest of each


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


def tokens_of(body: Json, default_completion: int, chars: int | None = None) -> tuple[int, int]:
    """(prompt, completion) tokens at most; `chars` when the policy has counted them."""
    messages = body.get("messages")
    prompt = prompt_chars(body) if chars is None else chars
    if not isinstance(messages, list):  # embeddings: `input`, nothing generated
        return prompt, 0
    prompt += TOKENS_PER_MESSAGE * len(messages)
    # The larger bound, each an int but not a bool (which is an int too); unrolled, as this
    # runs on every call.
    completion = body.get("max_tokens")
    if type(completion) is not int or completion < 0:
        completion = -1
    bound = body.get("max_completion_tokens")
    if type(bound) is int and bound > completion:
        completion = bound
    if completion < 0:
        completion = default_completion
    reasoning = body.get("reasoning")
    if reasoning is not None and isinstance(reasoning, dict):
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


PRICES = "quota-prices"
# How long the prices last looked up serve without asking the catalog whether they are still
# fresh (a call's need is a bound; a price change reaches it within this).
PRICES_RECHECK_S = 1.0
NOTHING = Need(0, 0.0)


class Estimator:
    def __init__(self, catalog: ModelCatalog, default_completion: int) -> None:
        self._catalog = catalog
        self._default_completion = default_completion
        self._warned = False
        # The prices last looked up, each model id's price in them, and until when (wall
        # clock) they serve without asking the catalog again.
        self._prices: Prices | None = None
        self._seen: dict[str, Price] = {}
        self._recheck_at = 0.0

    def _fresh_prices(self, now: float) -> dict[str, Price] | None:
        """Each model id's price, for the catalog's prices while they are fresh (None: fetch)."""
        prices: Prices | None = self._catalog.derived_now(PRICES)
        if prices is None:
            return None
        if prices is not self._prices:
            self._prices, self._seen = prices, {}
        self._recheck_at = now + PRICES_RECHECK_S if now else 0.0
        return self._seen

    def _price(self, model: object) -> Price:
        assert self._prices is not None
        if not isinstance(model, str):
            return price_of(self._prices, model)
        price = price_of(self._prices, model)
        if len(self._seen) < 10_000:  # ids are the caller's: bounded
            self._seen[model] = price
        return price

    def need_now(
        self, body: Json, chars: int | None, tokens: bool, usd: bool, now: float = 0.0
    ) -> Need | None:
        """The call's need, or None when the prices must be fetched first (then `need`). With
        `now` (the wall clock), prices looked up less than PRICES_RECHECK_S ago serve as they
        are: this runs on every call."""
        if not (tokens or usd):
            return NOTHING
        prompt, completion = tokens_of(body, self._default_completion, chars)
        if not usd:
            return new(Need, (prompt + completion, 0.0))
        if now and now < self._recheck_at:
            seen = self._seen
        else:
            fresh = self._fresh_prices(now)
            if fresh is None:
                return None
            seen = fresh
        model = body.get("model")
        price = seen.get(model) if type(model) is str else None
        if price is None:
            price = self._price(model)
        usd_need = prompt * price.prompt + completion * price.completion + price.request
        return new(Need, (prompt + completion, usd_need))

    async def need(self, body: Json, chars: int | None, tokens: bool, usd: bool) -> Need:
        found = self.need_now(body, chars, tokens, usd)
        if found is not None:
            return found
        try:
            await self._catalog.derived(PRICES, build_prices)
        except UpstreamFailure:
            if not self._warned:
                self._warned = True
                log.warning("quotas: no model catalog, so no USD is reserved before calls")
            return Need(sum(tokens_of(body, self._default_completion, chars)), 0.0)
        # Fetched now, and fresh: unless the catalog came back expired at once (a TTL of 0).
        return self.need_now(body, chars, tokens, usd) or Need(
            sum(tokens_of(body, self._default_completion, chars)), 0.0
        )

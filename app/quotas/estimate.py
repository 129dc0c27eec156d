"""A call's need (app/quotas/need.py) at the model catalog's prices, fetched when there are none.

Without any catalog (the upstream's model list cannot be fetched), no USD is reserved: the
spend limits then count settled calls only, and a warning says so, once.
"""

import logging

from app.json_shape import Json
from app.policy import prompt_chars
from app.quotas.limits import Need
from app.quotas.need import Needs, Prices, build_prices
from app.upstream.catalog import ModelCatalog
from app.upstream.failures import UpstreamFailure

log = logging.getLogger("app.quotas")

PRICES = "quota-prices"  # the catalog's name for what build_prices derives from it


class Estimator:
    def __init__(self, catalog: ModelCatalog, default_completion: int) -> None:
        self._catalog = catalog
        self.needs = Needs(self._prices_now, prompt_chars, default_completion)
        self._warned = False

    def _prices_now(self) -> Prices | None:
        prices: Prices | None = self._catalog.derived_now(PRICES)
        return prices

    async def need(self, body: Json, chars: int | None, tokens: bool, usd: bool) -> Need:
        found = self.needs.need_now(body, chars, tokens, usd)
        if found is not None:
            return found
        try:
            await self._catalog.derived(PRICES, build_prices)
        except UpstreamFailure:
            if not self._warned:
                self._warned = True
                log.warning("quotas: no model catalog, so no USD is reserved before calls")
            return self.needs.tokens(body, chars)
        # Fetched now, and fresh: unless the catalog came back expired at once (a TTL of 0).
        return self.needs.need_now(body, chars, tokens, usd) or self.needs.tokens(body, chars)

"""The quotas for the app's lifespan: the store REDIS_URL names (or this process's memory),
the hooks in the pipeline; on shutdown the settlements under way are finished.

Nothing is hooked when no QUOTA_* limit is set and there is no ledger database to hold an
admin's per-user limits; with the ledger, the hooks cost a dict lookup for a caller nothing
limits, and nothing changes for an operator who sets no limit.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.pipeline import Pipeline
from app.quotas.estimate import Estimator
from app.quotas.hook import Quotas, Store
from app.quotas.limits import Limits
from app.quotas.memory import MemoryStore
from app.quotas.overrides import OverrideStore
from app.quotas.redis_store import RedisStore
from app.upstream.catalog import ModelCatalog

# A store that does not answer within this is failing (QUOTA_FAIL_MODE decides).
REDIS_TIMEOUT_S = 1.0
# A reservation outlives the longest call by this much before it expires on its own.
HOLD_MARGIN_S = 60.0


def hold_s(settings: Settings) -> float:
    longest = max(
        settings.stream_max_lifetime_s,
        settings.upstream_total_timeout_s,
        settings.image_upstream_timeout_s,
    )
    return longest + HOLD_MARGIN_S


def default_limits(settings: Settings) -> Limits:
    return Limits(
        rpm=settings.quota_rpm,
        tokens_per_day=settings.quota_tokens_per_day,
        usd_per_day=settings.quota_usd_per_day,
        usd_per_month=settings.quota_usd_per_month,
        concurrent=settings.quota_concurrent_streams,
    )


@asynccontextmanager
async def running_quotas(
    settings: Settings, pipeline: Pipeline, catalog: ModelCatalog, engine: AsyncEngine | None
) -> AsyncIterator[Quotas | None]:
    defaults = default_limits(settings)
    if not defaults.any and engine is None:
        yield None
        return
    client: Redis | None = None
    store: Store
    if settings.redis_url is not None:
        client = Redis.from_url(
            settings.redis_url.get_secret_value(),
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
        )
        store = RedisStore(client)
    else:
        store = MemoryStore()
    quotas = Quotas(
        store,
        defaults,
        Estimator(catalog, settings.max_completion_tokens),
        fail_open=settings.quota_fail_mode == "open",
        hold_s=hold_s(settings),
        overrides=None if engine is None else OverrideStore(engine),
    )
    pipeline.admission.append(quotas.admit)
    pipeline.record.append(quotas.record)
    try:
        yield quotas
    finally:
        pipeline.admission.remove(quotas.admit)
        pipeline.record.remove(quotas.record)
        await quotas.drain()
        if client is not None:
            await client.aclose()

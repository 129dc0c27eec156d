"""The ledger's tables: `ai_calls`, one row per call (nothing in it is prompt or completion
text), `ai_configurations`, the legacy backend's per-model settings (`ai.configs`), and
`ai_quotas`, an admin's limits per user.

`cost_usd` is a double: it is OpenRouter's `usage.cost` exactly as the JSON number arrived
(already a float when parsed), and SQLite has no exact decimal type to keep it in anyway.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

ai_calls = Table(
    "ai_calls",
    metadata,
    # BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("request_id", String(128)),
    Column("generation_id", String(255)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("user_id", String(255), nullable=False),
    Column("role", String(64), nullable=False),
    Column("auth_kind", String(16), nullable=False),  # user, anon or admin
    Column("surface", String(16), nullable=False),  # legacy (/api/ai/) or v1 (/api/v1/)
    Column("route", String(128), nullable=False),
    Column("requested_model", String(255)),
    Column("served_model", String(255)),
    Column("provider", String(255)),
    Column("status", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("reasoning_tokens", Integer),
    Column("cached_tokens", Integer),
    Column("image_count", Integer),
    Column("cost_usd", Double),
    Column("latency_ms", Integer, nullable=False),
    Column("ttft_ms", Integer),
    Column("config_id", String(64)),
    Index("ix_ai_calls_started_at", "started_at"),
    Index("ix_ai_calls_user_id", "user_id"),
    Index("ix_ai_calls_generation_id", "generation_id"),
    Index("ix_ai_calls_config_id", "config_id"),  # revision 0002
)

# What the legacy backend kept per model (`ai.configs`): modalities as JSON arrays (SQLite has
# no array type), one row per model id, disabled rather than deleted.
ai_configurations = Table(
    "ai_configurations",
    metadata,
    Column("id", String(36), primary_key=True),  # a UUID, as the legacy ids were
    Column("model_id", String(255), nullable=False, unique=True),
    Column("provider", String(255), nullable=False),
    Column("input_modality", JSON, nullable=False),
    Column("output_modality", JSON, nullable=False),
    Column("system_prompt", Text),
    Column("is_active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# An admin's limits for one user (app/quotas/overrides.py): NULL keeps the QUOTA_* default, a
# number replaces it, and -1 (UNLIMITED) lifts it for this user. Revision 0003.
UNLIMITED = -1
ai_quotas = Table(
    "ai_quotas",
    metadata,
    Column("user_id", String(255), primary_key=True),
    Column("rpm", BigInteger),
    Column("tokens_per_day", BigInteger),
    Column("usd_per_day", Double),
    Column("usd_per_month", Double),
    Column("concurrent", BigInteger),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

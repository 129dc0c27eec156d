"""The ai_calls table: one row per AI call.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ai_calls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("request_id", sa.String(128)),
        sa.Column("generation_id", sa.String(255)),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("auth_kind", sa.String(16), nullable=False),
        sa.Column("surface", sa.String(16), nullable=False),
        sa.Column("route", sa.String(128), nullable=False),
        sa.Column("requested_model", sa.String(255)),
        sa.Column("served_model", sa.String(255)),
        sa.Column("provider", sa.String(255)),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("prompt_tokens", sa.Integer()),
        sa.Column("completion_tokens", sa.Integer()),
        sa.Column("reasoning_tokens", sa.Integer()),
        sa.Column("cached_tokens", sa.Integer()),
        sa.Column("image_count", sa.Integer()),
        sa.Column("cost_usd", sa.Double()),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("ttft_ms", sa.Integer()),
        sa.Column("config_id", sa.String(64)),
    )
    op.create_index("ix_ai_calls_started_at", "ai_calls", ["started_at"])
    op.create_index("ix_ai_calls_user_id", "ai_calls", ["user_id"])
    op.create_index("ix_ai_calls_generation_id", "ai_calls", ["generation_id"])


def downgrade() -> None:
    op.drop_table("ai_calls")

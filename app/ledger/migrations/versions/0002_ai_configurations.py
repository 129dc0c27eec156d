"""The ai_configurations table: the legacy backend's per-model settings; and an index on
ai_calls.config_id for the configurations' usage stats.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ai_configurations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("model_id", sa.String(255), nullable=False, unique=True),
        sa.Column("provider", sa.String(255), nullable=False),
        sa.Column("input_modality", sa.JSON(), nullable=False),
        sa.Column("output_modality", sa.JSON(), nullable=False),
        sa.Column("system_prompt", sa.Text()),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ai_calls_config_id", "ai_calls", ["config_id"])


def downgrade() -> None:
    op.drop_index("ix_ai_calls_config_id", "ai_calls")
    op.drop_table("ai_configurations")

"""The ai_quotas table: an admin's per-user limits, over the QUOTA_* defaults.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ai_quotas",
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("rpm", sa.BigInteger()),
        sa.Column("tokens_per_day", sa.BigInteger()),
        sa.Column("usd_per_day", sa.Double()),
        sa.Column("usd_per_month", sa.Double()),
        sa.Column("concurrent", sa.BigInteger()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ai_quotas")

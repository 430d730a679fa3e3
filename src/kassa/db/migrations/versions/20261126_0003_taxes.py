"""taxes: tax rates

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-26 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.db.types

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tax_rates",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("country", sa.String(length=60), nullable=True),
        sa.Column("percentage_e4", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", kassa.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "percentage_e4 >= 0 AND percentage_e4 <= 1000000", name=op.f("ck_tax_rates_percentage_range")
        ),
        sa.CheckConstraint("type IN ('exclusive', 'inclusive')", name=op.f("ck_tax_rates_type")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_rates")),
    )
    with op.batch_alter_table("tax_rates", schema=None) as batch_op:
        batch_op.create_index("ix_tax_rates_org_mode_created", ["organization_id", "mode", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_tax_rates_organization_id"), ["organization_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tax_rates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tax_rates_organization_id"))
        batch_op.drop_index("ix_tax_rates_org_mode_created")

    op.drop_table("tax_rates")

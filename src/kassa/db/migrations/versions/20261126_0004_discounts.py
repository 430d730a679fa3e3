"""discounts: coupons and promotion codes

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-26 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.db.types

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coupons",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("percent_off_e4", sa.Integer(), nullable=True),
        sa.Column("amount_off", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=10), nullable=True),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("times_redeemed", sa.Integer(), nullable=False),
        sa.Column("redeem_by", kassa.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("is_enable", sa.Boolean(), nullable=False),
        sa.Column("is_archived", sa.Boolean(), nullable=False),
        sa.Column("archived_at", kassa.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", kassa.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
    )
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.create_index("ix_coupons_org_mode_created", ["organization_id", "mode", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_coupons_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "promotion_codes",
        sa.Column("coupon_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("code_normalized", sa.String(length=20), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("expired_at", kassa.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("times_redeemed", sa.Integer(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", kassa.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["coupon_id"], ["coupons.id"], name=op.f("fk_promotion_codes_coupon_id_coupons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_codes")),
    )
    with op.batch_alter_table("promotion_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_promotion_codes_coupon_id"), ["coupon_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_promotion_codes_organization_id"), ["organization_id"], unique=False)
        # Codes are unique (lower-cased) among active codes only: archiving a coupon frees its code.
        batch_op.create_index(
            "uq_promotion_codes_org_mode_active_code",
            ["organization_id", "mode", "code_normalized"],
            unique=True,
            sqlite_where=sa.text("is_active = 1"),
            postgresql_where=sa.text("is_active"),
        )


def downgrade() -> None:
    with op.batch_alter_table("promotion_codes", schema=None) as batch_op:
        batch_op.drop_index("uq_promotion_codes_org_mode_active_code")
        batch_op.drop_index(batch_op.f("ix_promotion_codes_organization_id"))
        batch_op.drop_index(batch_op.f("ix_promotion_codes_coupon_id"))

    op.drop_table("promotion_codes")
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coupons_organization_id"))
        batch_op.drop_index("ix_coupons_org_mode_created")

    op.drop_table("coupons")

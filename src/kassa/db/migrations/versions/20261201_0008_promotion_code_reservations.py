"""promotion codes: reservations held by open checkout sessions; code attempts counted per session

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-01 04:30:00.000000

Coupons and promotion codes count `times_reserved`: the open (or part-paid) checkout sessions holding the code.
The column is filled from those sessions, so sessions created before this revision hold their reservation too.
`checkout_sessions.discount_redemption_failed` goes: a redemption is reserved when the code is applied, so it can
no longer fail at completion. Columns are added and dropped with plain ALTER TABLE (SQLite ≥ 3.35): copying
`coupons` or `checkout_sessions` the batch way would cascade-delete the rows that reference them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.db.types

revision: str = "0008"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("coupons", "promotion_codes"):
        op.add_column(table, sa.Column("times_reserved", sa.Integer(), server_default=sa.text("0"), nullable=False))
    # The sessions holding a code: open or paid in part (either may still complete), and naming the code.
    op.execute(
        "UPDATE promotion_codes SET times_reserved = (SELECT count(*) FROM checkout_sessions s"
        " WHERE s.promotion_code_id = promotion_codes.id AND s.status IN ('open', 'incomplete'))"
    )
    op.execute(
        "UPDATE coupons SET times_reserved = (SELECT count(*) FROM checkout_sessions s"
        " WHERE s.coupon_id = coupons.id AND s.promotion_code_id IS NOT NULL"
        " AND s.status IN ('open', 'incomplete'))"
    )
    op.drop_column("checkout_sessions", "discount_redemption_failed")
    op.create_table(
        "checkout_code_attempts",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("attempted_at", kassa.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["checkout_sessions.id"],
            name=op.f("fk_checkout_code_attempts_session_id_checkout_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkout_code_attempts")),
    )
    op.create_index(
        "ix_checkout_code_attempts_session_attempted", "checkout_code_attempts", ["session_id", "attempted_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_checkout_code_attempts_session_attempted", table_name="checkout_code_attempts")
    op.drop_table("checkout_code_attempts")
    op.add_column(
        "checkout_sessions",
        sa.Column("discount_redemption_failed", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    for table in ("promotion_codes", "coupons"):
        op.drop_column(table, "times_reserved")

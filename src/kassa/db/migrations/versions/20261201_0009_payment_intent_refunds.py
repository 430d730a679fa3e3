"""payment intents: refunds made outside Kassa, recorded on the checkout session

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 06:00:00.000000

`POST /api/v1/payment-intents/{id}/mark-as-refund` finds a session by its payment intent id (now indexed) and
stores when it was marked refunded and the merchant's comment. Both columns are nullable: no existing session
has been marked.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.db.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "checkout_sessions", sa.Column("marked_refunded_at", kassa.db.types.UTCDateTime(timezone=True), nullable=True)
    )
    op.add_column("checkout_sessions", sa.Column("mark_refunded_comment", sa.Text(), nullable=True))
    op.create_index(
        op.f("ix_checkout_sessions_payment_intent_id"), "checkout_sessions", ["payment_intent_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_checkout_sessions_payment_intent_id"), table_name="checkout_sessions")
    op.drop_column("checkout_sessions", "mark_refunded_comment")
    op.drop_column("checkout_sessions", "marked_refunded_at")

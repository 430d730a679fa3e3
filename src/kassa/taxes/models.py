"""Tax rates: a percentage added to (exclusive) or contained in (inclusive) a checkout's subtotal."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kassa.db.base import Base, OwnedMixin

# Percentages are integers scaled by 10^4: 7.25 % is 72500, 100 % is 1000000.
PERCENTAGE_SCALE = 10_000
MAX_PERCENTAGE_E4 = 100 * PERCENTAGE_SCALE


class TaxRate(OwnedMixin, Base):
    __tablename__ = "tax_rates"
    __table_args__ = (
        Index("ix_tax_rates_org_mode_created", "organization_id", "mode", "created_at"),
        CheckConstraint(f"percentage_e4 >= 0 AND percentage_e4 <= {MAX_PERCENTAGE_E4}", name="percentage_range"),
        CheckConstraint("type IN ('exclusive', 'inclusive')", name="type"),
    )

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(String(500))
    country: Mapped[str | None] = mapped_column(String(60))
    # Immutable once created: checkouts and invoices that used the rate must keep meaning the same thing.
    percentage_e4: Mapped[int] = mapped_column(Integer, nullable=False)
    type: Mapped[str] = mapped_column(String(10), nullable=False, default="exclusive")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)

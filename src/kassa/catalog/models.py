"""Products and their prices."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from kassa.db.base import Base, OwnedMixin
from kassa.db.types import UTCDateTime


class Product(OwnedMixin, Base):
    __tablename__ = "products"
    __table_args__ = (Index("ix_products_org_mode_created", "organization_id", "mode", "created_at"),)

    name: Mapped[str] = mapped_column(String(250), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    images: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    unit_label: Mapped[str | None] = mapped_column(String(12))
    url: Mapped[str | None] = mapped_column(String(2048))
    visibility: Mapped[int] = mapped_column(Integer, nullable=False, default=10)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    # No foreign key: prices point at products, and a cycle would complicate deletes on SQLite.
    default_price_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Price(OwnedMixin, Base):
    __tablename__ = "prices"
    __table_args__ = (
        Index("ix_prices_org_mode_created", "organization_id", "mode", "created_at"),
        Index("ix_prices_product", "product_id"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("products.id"), nullable=False)
    currency: Mapped[str] = mapped_column(String(10), nullable=False)
    type: Mapped[str] = mapped_column(String(12), nullable=False)
    # Null for pay-what-you-want prices: the buyer picks the amount within the custom bounds.
    unit_amount: Mapped[int | None] = mapped_column(BigInteger)
    interval: Mapped[str | None] = mapped_column(String(8))
    interval_count: Mapped[int | None] = mapped_column(Integer)
    custom_unit_min: Mapped[int | None] = mapped_column(BigInteger)
    custom_unit_max: Mapped[int | None] = mapped_column(BigInteger)
    custom_preset: Mapped[int | None] = mapped_column(BigInteger)
    custom_suggestions: Mapped[list[int] | None] = mapped_column(JSON)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    nickname: Mapped[str | None] = mapped_column(String(250))
    visibility: Mapped[int] = mapped_column(Integer, nullable=False, default=10)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)

    @property
    def is_custom(self) -> bool:
        return self.unit_amount is None

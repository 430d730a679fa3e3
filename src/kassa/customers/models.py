from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kassa.db.base import Base, OwnedMixin
from kassa.db.types import UTCDateTime


class Customer(OwnedMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_org_mode_created", "organization_id", "mode", "created_at"),
        Index("ix_customers_org_mode_email", "organization_id", "mode", "email"),
    )

    customer_number: Mapped[str] = mapped_column(String(40), nullable=False)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    organization_name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    shipping: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    tax_ids: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    customer_reference_id: Mapped[str | None] = mapped_column(String(200))
    visibility: Mapped[int] = mapped_column(Integer, nullable=False, default=20)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

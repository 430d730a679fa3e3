from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from kassa.db.base import Base, IdMixin, TimestampMixin
from kassa.db.types import UTCDateTime


class Organization(IdMixin, TimestampMixin, Base):
    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    kind: Mapped[str] = mapped_column(String(20), nullable=False, default="business")
    email: Mapped[str | None] = mapped_column(String(320))
    support_email: Mapped[str | None] = mapped_column(String(320))
    brand_color: Mapped[str | None] = mapped_column(String(20))
    website_url: Mapped[str | None] = mapped_column(String(2048))
    # Customer numbers are per organization; the counter lives on the row so taking one is a row update.
    customer_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class ApiKey(IdMixin, TimestampMixin, Base):
    __tablename__ = "api_keys"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    mode: Mapped[str] = mapped_column(String(4), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    # The first characters of the key, shown in listings so an operator can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(32), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

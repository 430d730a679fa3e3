from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from kassa.db.base import Base, IdMixin
from kassa.db.types import UTCDateTime


class IdempotencyRecord(IdMixin, Base):
    """The first response to a POST with an Idempotency-Key, kept 24 hours for replay."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("organization_id", "mode", "key"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    mode: Mapped[str] = mapped_column(String(4), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    # in_flight while the first request runs; done once its response is stored.
    state: Mapped[str] = mapped_column(String(10), nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

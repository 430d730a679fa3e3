from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from kassa.db.base import Base, IdMixin, TimestampMixin
from kassa.db.types import UTCDateTime


class Job(IdMixin, TimestampMixin, Base):
    """A unit of background work, written in the transaction of the change that needs it."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_due", "state", "run_at"),)

    kind: Mapped[str] = mapped_column(String(100), nullable=False)
    target_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # pending → done | failed (gave up); a claimed job stays pending with a lease in locked_until.
    state: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from kassa.db.base import Base, OwnedMixin


class Event(OwnedMixin, Base):
    """Something that happened to a merchant's object, written in the same transaction as the change."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_org_mode_created", "organization_id", "mode", "created_at"),
        Index("ix_events_object", "object_id"),
        # Retention sweeps and time-range replays read by creation time across organizations.
        Index("ix_events_created", "created_at"),
    )

    type: Mapped[str] = mapped_column(String(80), nullable=False)
    object_type: Mapped[str] = mapped_column(String(40), nullable=False)
    object_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    # The resource as of the event, in its API shape.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)

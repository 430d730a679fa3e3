"""The one function every state change uses to record its event (the transactional outbox)."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kassa.clock import Clock
from kassa.events.models import Event

API_VERSION = "2023-01-11"
EmitHook = Callable[[Session, Clock, Event], None]
# Hooks run in the same transaction after an event row is written (webhook fan-out registers one).
_after_emit: list[EmitHook] = []
# Modules that register hooks every emitting process needs: loaded on the first emit, so no process (API,
# worker, watcher, CLI) can write an event without its webhook deliveries because it forgot an import.
HOOK_MODULES = ("kassa.webhooks.fanout",)
_hooks_loaded = False


def on_emit(hook: EmitHook) -> None:
    """Register a hook once (registering the same function again is a no-op)."""
    if hook not in _after_emit:
        _after_emit.append(hook)


def _load_hooks() -> None:
    global _hooks_loaded
    if not _hooks_loaded:
        for module in HOOK_MODULES:
            importlib.import_module(module)
        _hooks_loaded = True


def emit(
    db: Session,
    clock: Clock,
    *,
    organization_id: uuid.UUID,
    mode: str,
    type: str,
    object_type: str,
    object_id: uuid.UUID,
    data: dict[str, Any],
) -> Event:
    _load_hooks()
    now = clock.now()
    event = Event(
        organization_id=organization_id,
        mode=mode,
        created_at=now,
        updated_at=now,
        type=type,
        object_type=object_type,
        object_id=object_id,
        data=data,
    )
    db.add(event)
    db.flush()
    for hook in _after_emit:
        hook(db, clock, event)
    return event


def envelope(event: Event) -> dict[str, Any]:
    """Copperx's webhook envelope."""
    return envelope_of(event.id, event.type, event.created_at, event.data)


def envelope_of(event_id: uuid.UUID, type: str, created_at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The envelope from an event's columns (delivery reads them without loading ORM objects)."""
    return {
        "id": str(event_id),
        "apiVersion": API_VERSION,
        # Exact integer milliseconds (createdAt has millisecond precision), no float multiplication.
        "created": int(created_at.timestamp()) * 1000 + created_at.microsecond // 1000,
        "object": "event",
        "type": type,
        "data": {"object": data},
    }


def events_for(db: Session, object_id: uuid.UUID, type: str | None = None) -> list[Event]:
    stmt = select(Event).where(Event.object_id == object_id).order_by(Event.created_at, Event.id)
    if type is not None:
        stmt = stmt.where(Event.type == type)
    return list(db.scalars(stmt))

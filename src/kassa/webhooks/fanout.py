"""The outbox fan-out: each event gets one delivery per enabled endpoint that subscribes to its type, written
in the transaction that writes the event (registered with `kassa.events.service.on_emit`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kassa.clock import Clock
from kassa.db.types import new_id
from kassa.events.models import Event
from kassa.events.service import on_emit
from kassa.webhooks import wake
from kassa.webhooks.models import WebhookDelivery, WebhookEndpoint

# Event types sent only to the endpoint they are about, never fanned out.
TEST_EVENT = "webhook_endpoint.test"
DISABLED_EVENT = "webhook_endpoint.disabled"
TARGETED_TYPES = frozenset({TEST_EVENT})


def subscribes(enabled_events: Iterable[str], event_type: str) -> bool:
    events = set(enabled_events)
    return "*" in events or event_type in events


def subscribed_endpoints(db: Session, event: Event) -> list[uuid.UUID]:
    rows = db.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.enabled_events).where(
            WebhookEndpoint.organization_id == event.organization_id,
            WebhookEndpoint.mode == event.mode,
            WebhookEndpoint.deleted_at.is_(None),
            WebhookEndpoint.is_disabled.is_(False),
        )
    ).all()
    return [row.id for row in rows if subscribes(row.enabled_events, event.type)]


def create_deliveries(
    db: Session,
    clock: Clock,
    event_id: uuid.UUID,
    endpoint_ids: Iterable[uuid.UUID],
    *,
    kind: str,
    due: datetime | None = None,
) -> list[WebhookDelivery]:
    now = clock.now()
    deliveries = [
        WebhookDelivery(
            id=new_id(),
            event_id=event_id,
            endpoint_id=endpoint_id,
            kind=kind,
            state="pending",
            attempts=0,
            next_attempt_at=due or now,
            created_at=now,
            updated_at=now,
        )
        for endpoint_id in endpoint_ids
    ]
    if deliveries:
        db.add_all(deliveries)
        wake.mark(db)
    return deliveries


def fan_out(db: Session, clock: Clock, event: Event) -> None:
    if event.type in TARGETED_TYPES:
        return
    create_deliveries(db, clock, event.id, subscribed_endpoints(db, event), kind="event")


on_emit(fan_out)

"""Sending events again: one event (optionally to one endpoint), or every event of a time range (the CLI)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kassa.auth.keys import Principal
from kassa.clock import Clock
from kassa.db.engine import Database
from kassa.errors import BadRequest, NotFound
from kassa.events.models import Event
from kassa.webhooks.fanout import TARGETED_TYPES, create_deliveries, subscribed_endpoints, subscribes
from kassa.webhooks.models import WebhookDelivery, WebhookEndpoint
from kassa.webhooks.service import get_endpoint

RANGE_BATCH = 500


def get_event(db: Session, principal: Principal, event_id: uuid.UUID) -> Event:
    event = db.scalar(
        select(Event).where(
            Event.id == event_id, Event.organization_id == principal.organization_id, Event.mode == principal.mode
        )
    )
    if event is None:
        raise NotFound(f"Event {event_id} not found")
    return event


def resend_event(
    db: Session, clock: Clock, principal: Principal, event_id: uuid.UUID, endpoint_id: uuid.UUID | None
) -> list[WebhookDelivery]:
    """New deliveries of an event, due now, with the usual retries: to one endpoint, or to every enabled
    endpoint that subscribes to its type."""
    event = get_event(db, principal, event_id)
    if endpoint_id is not None:
        endpoint = get_endpoint(db, principal, endpoint_id)
        _check_target(event, endpoint)
        targets = [endpoint.id]
    elif event.type in TARGETED_TYPES:
        targets = [event.object_id]  # a test event goes to its own endpoint only
        _check_target(event, get_endpoint(db, principal, event.object_id))
    else:
        targets = subscribed_endpoints(db, event)
        if not targets:
            raise BadRequest(f"no enabled webhook endpoint subscribes to {event.type}")
    kind = "test" if event.type in TARGETED_TYPES else "resend"
    deliveries = create_deliveries(db, clock, event.id, targets, kind=kind)
    db.flush()
    return deliveries


def _check_target(event: Event, endpoint: WebhookEndpoint) -> None:
    if event.type in TARGETED_TYPES:
        if endpoint.id != event.object_id:
            raise BadRequest("webhookEndpointId: a test event can only be sent to the endpoint it was made for")
        return
    if endpoint.is_disabled:
        raise BadRequest("webhookEndpointId: the endpoint is disabled; enable it first")
    if not subscribes(endpoint.enabled_events, event.type):
        raise BadRequest(f"webhookEndpointId: the endpoint does not subscribe to {event.type}")


@dataclass(frozen=True)
class RangeResent:
    events: int
    deliveries: int


def resend_range(
    database: Database,
    clock: Clock,
    *,
    start: datetime,
    end: datetime,
    types: list[str] | None = None,
    endpoint_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
    dry_run: bool = False,
) -> RangeResent:
    """Queue every event created in [start, end) again (operator recovery after an outage), to each enabled
    endpoint that subscribes to it, or to `endpoint_id` only. Commits every few hundred events."""
    endpoint = _range_endpoint(database, endpoint_id)
    events = deliveries = 0
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        with database.write_sessions() as db:
            batch = _next_batch(db, start, end, types, endpoint, organization_id, after)
            if not batch:
                return RangeResent(events, deliveries)
            for event in batch:
                if event.type in TARGETED_TYPES:
                    continue
                if endpoint is not None:
                    targets = [endpoint.id] if subscribes(endpoint.enabled_events, event.type) else []
                else:
                    targets = subscribed_endpoints(db, event)
                if targets:
                    events += 1
                    deliveries += len(targets)
                    if not dry_run:
                        create_deliveries(db, clock, event.id, targets, kind="resend")
            db.commit()
            after = (batch[-1].created_at, batch[-1].id)


def _range_endpoint(database: Database, endpoint_id: uuid.UUID | None) -> WebhookEndpoint | None:
    if endpoint_id is None:
        return None
    with database.read_sessions() as db:
        endpoint = db.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.deleted_at is not None:
        raise NotFound(f"Webhook endpoint {endpoint_id} not found")
    if endpoint.is_disabled:
        raise BadRequest(f"webhook endpoint {endpoint_id} is disabled; enable it first")
    return endpoint


def _next_batch(
    db: Session,
    start: datetime,
    end: datetime,
    types: list[str] | None,
    endpoint: WebhookEndpoint | None,
    organization_id: uuid.UUID | None,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[Event]:
    stmt = select(Event).where(Event.created_at >= start, Event.created_at < end)
    if types:
        stmt = stmt.where(Event.type.in_(types))
    if endpoint is not None:
        stmt = stmt.where(Event.organization_id == endpoint.organization_id, Event.mode == endpoint.mode)
    elif organization_id is not None:
        stmt = stmt.where(Event.organization_id == organization_id)
    if after is not None:
        stmt = stmt.where((Event.created_at > after[0]) | ((Event.created_at == after[0]) & (Event.id > after[1])))
    return list(db.scalars(stmt.order_by(Event.created_at, Event.id).limit(RANGE_BATCH)))

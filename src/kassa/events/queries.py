"""Reading events with their delivery status (the events API); always scoped to the caller."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from kassa.api.pagination import PageQuery, paginate
from kassa.auth.keys import Principal
from kassa.events.models import Event
from kassa.events.schemas import AttemptOut, DeliveryOut, EventDetailOut, EventFilters, EventOut
from kassa.events.service import envelope
from kassa.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def scoped(principal: Principal) -> Select[Event]:
    return select(Event).where(Event.organization_id == principal.organization_id, Event.mode == principal.mode)


def list_events(db: Session, principal: Principal, query: PageQuery, filters: EventFilters) -> dict[str, Any]:
    stmt = scoped(principal)
    if filters.type:
        stmt = stmt.where(Event.type.in_(filters.type))
    if filters.object_id is not None:
        stmt = stmt.where(Event.object_id == filters.object_id)
    if filters.delivery_success is not None:
        any_delivery = exists().where(WebhookDelivery.event_id == Event.id)
        unfinished = exists().where(WebhookDelivery.event_id == Event.id, WebhookDelivery.state != "succeeded")
        stmt = stmt.where(any_delivery & ~unfinished) if filters.delivery_success else stmt.where(unfinished)
    echo = filters.model_dump(mode="json", by_alias=True, exclude_none=True)
    page = paginate(db, stmt, Event, query, lambda event: to_out(event, 0), echo)
    pending = _pending_counts(db, [item.id for item in page["data"]])
    page["data"] = [item.model_copy(update={"pending_webhooks": pending.get(item.id, 0)}) for item in page["data"]]
    return page


def event_detail(db: Session, event: Event) -> EventDetailOut:
    rows = db.execute(
        select(WebhookDelivery, WebhookEndpoint.url)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.event_id == event.id)
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
    ).all()
    attempts: dict[uuid.UUID, list[AttemptOut]] = {}
    if rows:
        for attempt in db.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_([delivery.id for delivery, _ in rows]))
            .order_by(WebhookAttempt.attempted_at, WebhookAttempt.number)
        ):
            attempts.setdefault(attempt.delivery_id, []).append(_attempt_out(attempt))
    deliveries = [_delivery_out(delivery, url, attempts.get(delivery.id, [])) for delivery, url in rows]
    pending = sum(1 for delivery, _ in rows if delivery.state == "pending")
    return EventDetailOut(**to_out(event, pending).model_dump(), deliveries=deliveries)


def to_out(event: Event, pending_webhooks: int) -> EventOut:
    wire = envelope(event)
    return EventOut(
        id=event.id,
        api_version=wire["apiVersion"],
        created=wire["created"],
        type=event.type,
        data=wire["data"],
        created_at=event.created_at,
        organization_id=event.organization_id,
        livemode=event.mode == "live",
        pending_webhooks=pending_webhooks,
    )


def _pending_counts(db: Session, event_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not event_ids:
        return {}
    rows = db.execute(
        select(WebhookDelivery.event_id, func.count())
        .where(WebhookDelivery.event_id.in_(event_ids), WebhookDelivery.state == "pending")
        .group_by(WebhookDelivery.event_id)
    ).all()
    return {event_id: count for event_id, count in rows}  # noqa: C416  # rows are Row objects, not pairs


def _delivery_out(delivery: WebhookDelivery, url: str, attempts: list[AttemptOut]) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        webhook_endpoint_id=delivery.endpoint_id,
        url=url,
        kind=delivery.kind,
        status=delivery.state,
        attempt_count=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if delivery.state == "pending" else None,
        first_attempt_at=delivery.first_attempt_at,
        last_attempt_at=delivery.last_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        attempts=attempts,
    )


def _attempt_out(attempt: WebhookAttempt) -> AttemptOut:
    return AttemptOut(
        id=attempt.id,
        number=attempt.number,
        attempted_at=attempt.attempted_at,
        succeeded=attempt.succeeded,
        status_code=attempt.status_code,
        latency_ms=attempt.latency_ms,
        response_body=attempt.response_body,
        error=attempt.error,
    )

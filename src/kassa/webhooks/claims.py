"""Claiming due deliveries: several workers, in several processes, never send the same delivery at once.

A claim moves `next_attempt_at` forward by the lease and stamps a claim token, in one short transaction. On
PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`, so concurrent claimers take disjoint rows without
waiting; on SQLite the write transaction (BEGIN IMMEDIATE) serializes claimers. A worker that dies leaves its
claims to come due again when the lease runs out. Its outcome is written only if the token still matches.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kassa.clock import Clock
from kassa.events.models import Event
from kassa.events.service import envelope
from kassa.webhooks.models import WebhookDelivery, WebhookEndpoint
from kassa.webhooks.service import cancel_pending

Delivery = WebhookDelivery


@dataclass(frozen=True)
class Claim:
    delivery_id: uuid.UUID
    token: uuid.UUID
    kind: str
    attempt: int  # the number of the attempt about to be made (1 for the first)
    first_attempt_at: datetime | None
    endpoint_id: uuid.UUID
    url: str
    secrets: tuple[str, ...]  # newest first
    event_id: uuid.UUID
    body: bytes


def claim_due(
    db: Session,
    clock: Clock,
    *,
    limit: int,
    per_endpoint: int,
    busy: Mapping[uuid.UUID, int],
    lease: timedelta,
) -> list[Claim]:
    """Lease up to `limit` due deliveries, at most `per_endpoint` in flight per endpoint counting `busy`
    (this worker's requests in flight); the caller commits at once."""
    now = clock.now()
    ids = _lock_due(db, now, limit=limit, per_endpoint=per_endpoint, busy=busy)
    if not ids:
        return []
    token = uuid.uuid4()
    db.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(next_attempt_at=now + lease, claim_token=token, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    rows = db.execute(
        select(Delivery, Event, WebhookEndpoint)
        .join(Event, Event.id == Delivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.next_attempt_at)
    ).all()
    claims: list[Claim] = []
    gone: set[uuid.UUID] = set()
    for delivery, event, endpoint in rows:
        if (endpoint.is_disabled or endpoint.deleted_at is not None) and delivery.kind != "test":
            gone.add(endpoint.id)  # disabled between fan-out and now: nothing to send
            continue
        claims.append(
            Claim(
                delivery_id=delivery.id,
                token=token,
                kind=delivery.kind,
                attempt=delivery.attempts + 1,
                first_attempt_at=delivery.first_attempt_at,
                endpoint_id=endpoint.id,
                url=endpoint.url,
                secrets=_signing_secrets(endpoint, now),
                event_id=event.id,
                body=json.dumps(envelope(event), separators=(",", ":"), ensure_ascii=False).encode(),
            )
        )
    for endpoint_id in gone:
        cancel_pending(db, now, endpoint_id, "endpoint disabled or deleted")
    return claims


def _lock_due(
    db: Session, now: datetime, *, limit: int, per_endpoint: int, busy: Mapping[uuid.UUID, int]
) -> list[uuid.UUID]:
    due = (Delivery.state == "pending", Delivery.next_attempt_at <= now)
    saturated = [endpoint_id for endpoint_id, n in busy.items() if n >= per_endpoint]
    candidates = select(Delivery.id, Delivery.endpoint_id).where(*due)
    if saturated:
        candidates = candidates.where(Delivery.endpoint_id.not_in(saturated))
    # Oldest first; a backlog for one endpoint takes only its free slots, the rest go to other endpoints.
    taken = Counter(busy)
    chosen: list[uuid.UUID] = []
    for delivery_id, endpoint_id in db.execute(candidates.order_by(Delivery.next_attempt_at).limit(limit * 4)):
        if taken[endpoint_id] < per_endpoint:
            taken[endpoint_id] += 1
            chosen.append(delivery_id)
            if len(chosen) == limit:
                break
    if not chosen:
        return []
    lock = select(Delivery.id).where(Delivery.id.in_(chosen), *due)
    if db.get_bind().dialect.name == "postgresql":
        # Re-checked under the row lock; rows another worker is claiming right now are skipped, not waited for.
        lock = lock.with_for_update(skip_locked=True)
    return list(db.scalars(lock))


def _signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> tuple[str, ...]:
    previous = endpoint.previous_secret
    expires = endpoint.previous_secret_expires_at
    if previous and expires is not None and expires > now:
        return (endpoint.secret, previous)
    return (endpoint.secret,)

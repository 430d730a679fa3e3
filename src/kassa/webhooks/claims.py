"""Claiming due deliveries: several workers, in several processes, never send the same delivery at once.

A claim moves `next_attempt_at` forward by the lease and stamps a claim token, in one short transaction. On
PostgreSQL the due rows are read `FOR UPDATE SKIP LOCKED`, so concurrent claimers take disjoint rows without
waiting for each other; on SQLite the write transaction (BEGIN IMMEDIATE) serializes claimers. A worker that
dies leaves its claims to come due again when the lease runs out; an outcome is written only if its claim
token still matches, so a late answer never overwrites a newer claim's.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from kassa.clock import Clock
from kassa.events.models import Event
from kassa.events.service import envelope_of
from kassa.webhooks.models import WebhookDelivery, WebhookEndpoint
from kassa.webhooks.service import cancel_pending

Delivery = WebhookDelivery
Endpoint = WebhookEndpoint


@dataclass(frozen=True)
class Claim:
    delivery_id: uuid.UUID
    token: uuid.UUID
    kind: str
    attempt: int  # the number of the attempt about to be made (1 for the first)
    first_attempt_at: datetime | None
    endpoint_id: uuid.UUID
    url: str
    live: bool  # live-mode endpoints may only be on the public internet
    secrets: tuple[str, ...]  # newest first
    event_id: uuid.UUID
    envelope: dict[str, Any]


def claim_due(
    db: Session,
    clock: Clock,
    *,
    limit: int,
    per_endpoint: int,
    busy: Mapping[uuid.UUID, int],
    lease: timedelta,
) -> list[Claim]:
    """Lease up to `limit` due deliveries, oldest first, leaving each endpoint at most `per_endpoint` counting
    `busy` (what this worker holds already); the caller commits at once."""
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
        select(
            Delivery.id,
            Delivery.kind,
            Delivery.attempts,
            Delivery.first_attempt_at,
            Event.id.label("event_id"),
            Event.type,
            Event.created_at,
            Event.data,
            Endpoint.id.label("endpoint_id"),
            Endpoint.url,
            Endpoint.mode,
            Endpoint.secret,
            Endpoint.previous_secret,
            Endpoint.previous_secret_expires_at,
            Endpoint.is_disabled,
            Endpoint.deleted_at,
        )
        .join(Event, Event.id == Delivery.event_id)
        .join(Endpoint, Endpoint.id == Delivery.endpoint_id)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.next_attempt_at)
    ).all()
    claims: list[Claim] = []
    gone: set[uuid.UUID] = set()
    for row in rows:
        if (row.is_disabled or row.deleted_at is not None) and row.kind != "test":
            gone.add(row.endpoint_id)  # disabled since the fan-out: nothing to send
            continue
        secrets: tuple[str, ...] = (row.secret,)
        if row.previous_secret and row.previous_secret_expires_at and row.previous_secret_expires_at > now:
            secrets = (row.secret, row.previous_secret)
        claims.append(
            Claim(
                delivery_id=row.id,
                token=token,
                kind=row.kind,
                attempt=row.attempts + 1,
                first_attempt_at=row.first_attempt_at,
                endpoint_id=row.endpoint_id,
                url=row.url,
                live=row.mode == "live",
                secrets=secrets,
                event_id=row.event_id,
                envelope=envelope_of(row.event_id, row.type, row.created_at, row.data),
            )
        )
    for endpoint_id in gone:
        cancel_pending(db, now, endpoint_id, "endpoint disabled or deleted")
    return claims


def any_due(db: Session, clock: Clock, *, per_endpoint: int, busy: Mapping[uuid.UUID, int]) -> bool:
    """A read-only look first, so an idle worker's polls never take SQLite's write lock."""
    stmt = _due(clock.now(), per_endpoint, busy).with_only_columns(Delivery.id).limit(1)
    return db.scalar(stmt) is not None


def _due(now: datetime, per_endpoint: int, busy: Mapping[uuid.UUID, int]) -> Select[uuid.UUID, uuid.UUID]:
    stmt = select(Delivery.id, Delivery.endpoint_id).where(Delivery.state == "pending", Delivery.next_attempt_at <= now)
    saturated = [endpoint_id for endpoint_id, n in busy.items() if n >= per_endpoint]
    if saturated:
        stmt = stmt.where(Delivery.endpoint_id.not_in(saturated))
    return stmt


def _lock_due(
    db: Session, now: datetime, *, limit: int, per_endpoint: int, busy: Mapping[uuid.UUID, int]
) -> list[uuid.UUID]:
    due = _due(now, per_endpoint, busy).order_by(Delivery.next_attempt_at).limit(limit * 2)
    if db.get_bind().dialect.name == "postgresql":
        # Rows another worker is claiming right now are skipped, not waited for. The rows read but not chosen
        # below are only locked until this transaction commits, a moment later.
        due = due.with_for_update(skip_locked=True)
    # A backlog for one endpoint takes only its share; the rest of the batch goes to other endpoints.
    taken = Counter(busy)
    chosen: list[uuid.UUID] = []
    for delivery_id, endpoint_id in db.execute(due):
        if taken[endpoint_id] < per_endpoint:
            taken[endpoint_id] += 1
            chosen.append(delivery_id)
            if len(chosen) == limit:
                break
    return chosen

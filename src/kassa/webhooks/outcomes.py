"""Recording what happened to claimed deliveries: one attempt row each, the delivery's next state, the
endpoint's health, and disabling an endpoint that has only failed for three days."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, Table, bindparam, insert, update
from sqlalchemy.orm import Session

from kassa.clock import Clock
from kassa.db.types import new_id
from kassa.events.service import emit
from kassa.logs import get_logger
from kassa.webhooks.claims import Claim
from kassa.webhooks.fanout import DISABLED_EVENT
from kassa.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from kassa.webhooks.retry import DISABLE_AFTER, next_attempt_at
from kassa.webhooks.service import disable, event_data

log = get_logger("kassa.webhooks")
AUTO_DISABLED = "every delivery failed for 3 days"


@dataclass(frozen=True)
class Outcome:
    claim: Claim
    attempted_at: datetime
    latency_ms: int
    status_code: int | None = None
    response_head: bytes = b""
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def counts_for_health(self) -> bool:
        # A failed test says nothing the merchant did not ask to find out; a successful one shows it works.
        return self.claim.kind != "test" or self.succeeded


def record_outcomes(db: Session, clock: Clock, outcomes: Sequence[Outcome]) -> None:
    """Write a batch of outcomes in the caller's transaction."""
    if not outcomes:
        return
    attempts = _table(WebhookAttempt)
    db.execute(insert(attempts), [_attempt_row(o) for o in outcomes])
    deliveries = _table(WebhookDelivery)
    db.execute(
        update(deliveries)
        .where(deliveries.c.id == bindparam("b_id"), deliveries.c.claim_token == bindparam("b_token"))
        .values(
            state=bindparam("b_state"),
            attempts=bindparam("b_attempts"),
            next_attempt_at=bindparam("b_next"),
            first_attempt_at=bindparam("b_first"),
            last_attempt_at=bindparam("b_last"),
            last_status_code=bindparam("b_status"),
            last_error=bindparam("b_error"),
            finished_at=bindparam("b_finished"),
            updated_at=bindparam("b_last"),
            claim_token=None,
        )
        .execution_options(synchronize_session=False),
        [_delivery_change(o) for o in outcomes],
    )
    _update_health(db, clock, outcomes)


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


def _attempt_row(outcome: Outcome) -> dict[str, Any]:
    return {
        "id": new_id(),
        "delivery_id": outcome.claim.delivery_id,
        "number": outcome.claim.attempt,
        "attempted_at": outcome.attempted_at,
        "succeeded": outcome.succeeded,
        "status_code": outcome.status_code,
        "latency_ms": outcome.latency_ms,
        "response_body": outcome.response_head.decode("utf-8", errors="replace") if outcome.response_head else None,
        "error": outcome.error[:500] if outcome.error else None,
    }


def _delivery_change(outcome: Outcome) -> dict[str, Any]:
    claim = outcome.claim
    first = claim.first_attempt_at or outcome.attempted_at
    retry_at = None
    if not outcome.succeeded and claim.kind != "test":
        retry_at = next_attempt_at(first, outcome.attempted_at, claim.attempt)
    if outcome.succeeded:
        state = "succeeded"
    elif retry_at is not None:
        state = "pending"
    else:
        state = "failed"
    return {
        "b_id": claim.delivery_id,
        "b_token": claim.token,
        "b_state": state,
        "b_attempts": claim.attempt,
        "b_next": retry_at or outcome.attempted_at,
        "b_first": first,
        "b_last": outcome.attempted_at,
        "b_status": outcome.status_code,
        "b_error": outcome.error[:500] if outcome.error else None,
        "b_finished": None if state == "pending" else outcome.attempted_at,
    }


def _update_health(db: Session, clock: Clock, outcomes: Sequence[Outcome]) -> None:
    by_endpoint: dict[uuid.UUID, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.counts_for_health:
            by_endpoint[outcome.claim.endpoint_id].append(outcome)
    endpoints = _table(WebhookEndpoint)
    for endpoint_id, results in by_endpoint.items():
        last_success = max((o.attempted_at for o in results if o.succeeded), default=None)
        failures = [
            o.attempted_at for o in results if not o.succeeded and (not last_success or o.attempted_at > last_success)
        ]
        stmt = update(endpoints).where(endpoints.c.id == endpoint_id)
        if not failures:
            db.execute(stmt.where(endpoints.c.failing_since.is_not(None)).values(failing_since=None))
            continue
        if last_success is None:
            stmt = stmt.where(endpoints.c.failing_since.is_(None))  # keep the start of a longer failure
        db.execute(stmt.values(failing_since=min(failures)))
        _disable_if_dead(db, clock, endpoint_id, max(failures))


def _disable_if_dead(db: Session, clock: Clock, endpoint_id: uuid.UUID, failed_at: datetime) -> None:
    endpoints = _table(WebhookEndpoint)
    # Conditional, so of two workers recording failures at once only one disables and emits.
    result = db.execute(
        update(endpoints)
        .where(
            endpoints.c.id == endpoint_id,
            endpoints.c.is_disabled.is_(False),
            endpoints.c.deleted_at.is_(None),
            endpoints.c.failing_since <= failed_at - DISABLE_AFTER,
        )
        .values(is_disabled=True)
    )
    assert isinstance(result, CursorResult)
    if result.rowcount != 1:
        return
    endpoint = db.get(WebhookEndpoint, endpoint_id, populate_existing=True)
    assert endpoint is not None
    disable(db, clock.now(), endpoint, AUTO_DISABLED)
    db.flush()
    log.warning("webhook endpoint disabled", endpoint_id=str(endpoint_id), reason=AUTO_DISABLED)
    emit(
        db,
        clock,
        organization_id=endpoint.organization_id,
        mode=endpoint.mode,
        type=DISABLED_EVENT,
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        data=event_data(endpoint),
    )

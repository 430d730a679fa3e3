"""Webhook endpoints: create, read, update, delete, regenerate the secret, send a test event.

Always scoped to the caller's organization and mode; a missing or foreign id is a 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, Select, func, select, update
from sqlalchemy.orm import Session

from kassa.api.pagination import PageQuery, paginate
from kassa.auth.keys import Principal
from kassa.clock import Clock
from kassa.db.types import new_id
from kassa.errors import BadRequest, NotFound
from kassa.events.models import Event
from kassa.events.service import emit
from kassa.webhooks.fanout import TEST_EVENT, create_deliveries
from kassa.webhooks.guard import RefusedTarget, ensure_public_url
from kassa.webhooks.models import WebhookDelivery, WebhookEndpoint
from kassa.webhooks.schemas import (
    WebhookEndpointCreate,
    WebhookEndpointFilters,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
    WebhookEventsOut,
)
from kassa.webhooks.signing import generate_secret

MAX_ENDPOINTS = 16
# After a regenerate, the old secret keeps signing alongside the new one for this long.
ROLLOVER = timedelta(hours=24)
MANUALLY_DISABLED = "disabled by the merchant"


def scoped(principal: Principal) -> Select[WebhookEndpoint]:
    return select(WebhookEndpoint).where(
        WebhookEndpoint.organization_id == principal.organization_id,
        WebhookEndpoint.mode == principal.mode,
        WebhookEndpoint.deleted_at.is_(None),
    )


def get_endpoint(db: Session, principal: Principal, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = db.scalar(scoped(principal).where(WebhookEndpoint.id == endpoint_id))
    if endpoint is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} not found")
    return endpoint


def check_target(principal: Principal, url: str) -> None:
    """A live-mode URL must be public now (it is checked again on every connection); test mode may be local.

    A name that does not resolve is refused too: nothing could be delivered to it, and the merchant can set the
    URL once its DNS is in place. The lookup uses the system resolver (its timeouts apply).
    """
    if principal.mode != "live":
        return
    try:
        ensure_public_url(url)
    except RefusedTarget as exc:
        raise BadRequest(f"url: {exc}") from None


def create_endpoint(db: Session, clock: Clock, principal: Principal, data: WebhookEndpointCreate) -> WebhookEndpoint:
    check_target(principal, data.url)
    count = db.scalar(scoped(principal).with_only_columns(func.count()).order_by(None)) or 0
    if count >= MAX_ENDPOINTS:
        raise BadRequest(f"url: an organization may have at most {MAX_ENDPOINTS} webhook endpoints per mode")
    now = clock.now()
    endpoint = WebhookEndpoint(
        id=new_id(),
        **principal.stamp(now),
        url=data.url,
        description=data.description,
        enabled_events=data.enabled_events.events,
        is_disabled=False,
        secret=generate_secret(),
    )
    db.add(endpoint)
    db.flush()
    return endpoint


def update_endpoint(
    db: Session, clock: Clock, principal: Principal, endpoint_id: uuid.UUID, data: WebhookEndpointUpdate
) -> WebhookEndpoint:
    if data.url is not None:
        check_target(principal, data.url)
    endpoint = get_endpoint(db, principal, endpoint_id)
    now = clock.now()
    if data.description is not None:
        endpoint.description = data.description
    if data.url is not None:
        endpoint.url = data.url
    if data.enabled_events is not None:
        endpoint.enabled_events = data.enabled_events.events
    if data.is_disabled is True and not endpoint.is_disabled:
        disable(db, now, endpoint, MANUALLY_DISABLED)
    elif data.is_disabled is False and endpoint.is_disabled:
        endpoint.is_disabled = False
        endpoint.disabled_at = None
        endpoint.disabled_reason = None
        endpoint.failing_since = None  # a fresh start: three more days before it could be disabled again
    endpoint.updated_at = now
    db.flush()
    return endpoint


def delete_endpoint(db: Session, clock: Clock, principal: Principal, endpoint_id: uuid.UUID) -> None:
    endpoint = get_endpoint(db, principal, endpoint_id)
    now = clock.now()
    # Soft delete: deliveries and their attempts keep pointing at it, for the events API.
    endpoint.deleted_at = now
    endpoint.updated_at = now
    cancel_pending(db, now, endpoint.id, "endpoint deleted", include_tests=True)
    db.flush()


def regenerate_secret(db: Session, clock: Clock, principal: Principal, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    """A new secret; the current one keeps signing alongside it for 24 h (an older rotation is dropped)."""
    endpoint = get_endpoint(db, principal, endpoint_id)
    now = clock.now()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + ROLLOVER
    endpoint.secret = generate_secret()
    endpoint.updated_at = now
    db.flush()
    return endpoint


def send_test(db: Session, clock: Clock, principal: Principal, endpoint_id: uuid.UUID) -> Event:
    """Queue a `webhook_endpoint.test` event for this endpoint alone, due now (one attempt, no retries)."""
    endpoint = get_endpoint(db, principal, endpoint_id)
    event = emit(
        db,
        clock,
        organization_id=endpoint.organization_id,
        mode=endpoint.mode,
        type=TEST_EVENT,
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        data=event_data(endpoint),
    )
    create_deliveries(db, clock, event.id, [endpoint.id], kind="test")
    db.flush()
    return event


def disable(db: Session, now: datetime, endpoint: WebhookEndpoint, reason: str) -> None:
    endpoint.is_disabled = True
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason
    endpoint.updated_at = now
    cancel_pending(db, now, endpoint.id, f"endpoint disabled: {reason}")


def cancel_pending(
    db: Session, now: datetime, endpoint_id: uuid.UUID, reason: str, *, include_tests: bool = False
) -> int:
    """Stop the deliveries still waiting for this endpoint (a test is still sent to a disabled endpoint)."""
    stmt = update(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.state == "pending")
    if not include_tests:
        stmt = stmt.where(WebhookDelivery.kind != "test")
    values = {"state": "canceled", "finished_at": now, "updated_at": now, "claim_token": None, "last_error": reason}
    # Without the autoflush, deliveries are locked before their endpoint's row (changed on flush), the order in
    # which a worker recording outcomes locks them too: no deadlock between the two on PostgreSQL.
    with db.no_autoflush:
        result = db.execute(stmt.values(**values).execution_options(synchronize_session=False))
    assert isinstance(result, CursorResult)
    return result.rowcount


def list_endpoints(
    db: Session, principal: Principal, query: PageQuery, filters: WebhookEndpointFilters
) -> dict[str, Any]:
    stmt = scoped(principal)
    if filters.is_disabled is not None:
        stmt = stmt.where(WebhookEndpoint.is_disabled.is_(filters.is_disabled))
    echo = filters.model_dump(by_alias=True, exclude_none=True)
    return paginate(db, stmt, WebhookEndpoint, query, to_out, echo)


def redact(secret: str) -> str:
    return f"{secret[:6]}…{secret[-4:]}"


def to_out(endpoint: WebhookEndpoint, *, reveal_secret: bool = False) -> WebhookEndpointOut:
    return WebhookEndpointOut(
        id=endpoint.id,
        description=endpoint.description,
        url=endpoint.url,
        secret=endpoint.secret if reveal_secret else redact(endpoint.secret),
        is_disabled=endpoint.is_disabled,
        disabled_reason=endpoint.disabled_reason,
        enabled_events=WebhookEventsOut(events=list(endpoint.enabled_events)),
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
        organization_id=endpoint.organization_id,
        livemode=endpoint.mode == "live",
    )


def event_data(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """The endpoint as carried by its own events: never the secret."""
    data: dict[str, Any] = to_out(endpoint).model_dump(mode="json", by_alias=True)
    return data

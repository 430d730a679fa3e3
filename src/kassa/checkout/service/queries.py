"""Reading sessions: one, a page, the completion poll, the CSV export."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from kassa.api.pagination import PageQuery, paginate
from kassa.api.types import format_timestamp
from kassa.auth.keys import Principal
from kassa.checkout.models import CheckoutSession
from kassa.checkout.schemas import SessionFilters
from kassa.checkout.serialize import session_dicts
from kassa.errors import NotFound
from kassa.events.models import Event

EXPORT_BATCH = 500
EXPORT_COLUMNS = (
    "id",
    "createdAt",
    "status",
    "paymentStatus",
    "mode",
    "currency",
    "amountSubtotal",
    "amountDiscount",
    "amountTax",
    "amountTotal",
    "amountReceived",
    "customerId",
    "customerEmail",
    "clientReferenceId",
    "expiresAt",
    "completedAt",
    "livemode",
)


def scoped(principal: Principal) -> Select[CheckoutSession]:
    return select(CheckoutSession).where(
        CheckoutSession.organization_id == principal.organization_id, CheckoutSession.mode == principal.mode
    )


def get_session(db: Session, principal: Principal, session_id: uuid.UUID) -> CheckoutSession:
    session = db.scalar(scoped(principal).where(CheckoutSession.id == session_id))
    if session is None:
        raise NotFound(f"Checkout session {session_id} not found")
    return session


def filtered(principal: Principal, filters: SessionFilters) -> Select[CheckoutSession]:
    stmt = scoped(principal)
    for column, value in (
        (CheckoutSession.status, filters.status),
        (CheckoutSession.payment_status, filters.payment_status),
        (CheckoutSession.customer_id, filters.customer_id),
        (CheckoutSession.checkout_mode, filters.mode),
        (CheckoutSession.coupon_id, filters.coupon_id),
        (CheckoutSession.payment_link_id, filters.payment_link_id),
        (CheckoutSession.subscription_id, filters.subscription_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def list_sessions(
    db: Session, principal: Principal, public_url: str, query: PageQuery, filters: SessionFilters
) -> dict[str, Any]:
    echo = filters.model_dump(mode="json", by_alias=True, exclude_none=True)
    page = paginate(db, filtered(principal, filters), CheckoutSession, query, lambda s: s, echo)
    page["data"] = session_dicts(db, public_url, page["data"], slim=True)
    return page


def completed_status(db: Session, principal: Principal, session_id: uuid.UUID) -> dict[str, Any]:
    """Copperx's poll: has this session completed, and was its `checkout_session.completed` webhook delivered?

    `completed` is true once the completed event exists; delivery detail is on the events API.
    """
    session = get_session(db, principal, session_id)
    event = db.scalar(
        select(Event.id).where(Event.object_id == session.id, Event.type == "checkout_session.completed").limit(1)
    )
    out: dict[str, Any] = {
        "completed": event is not None,
        "status": session.status,
        "updatedAt": format_timestamp(session.updated_at),
    }
    return out


def export_rows(
    db: Session, principal: Principal, filters: SessionFilters, start: datetime | None, end: datetime | None
) -> Iterator[str]:
    """CSV text in chunks, newest first; paged by keyset so a large export never loads at once."""
    stmt = filtered(principal, filters)
    if start is not None:
        stmt = stmt.where(CheckoutSession.created_at >= start)
    if end is not None:
        stmt = stmt.where(CheckoutSession.created_at < end)
    yield _csv_line(EXPORT_COLUMNS)
    last: tuple[datetime, uuid.UUID] | None = None
    while True:
        page = stmt.order_by(CheckoutSession.created_at.desc(), CheckoutSession.id.desc()).limit(EXPORT_BATCH)
        if last is not None:
            page = page.where(
                (CheckoutSession.created_at < last[0])
                | ((CheckoutSession.created_at == last[0]) & (CheckoutSession.id < last[1]))
            )
        rows = list(db.scalars(page))
        if not rows:
            return
        yield "".join(_csv_line(_export_values(s)) for s in rows)
        last = (rows[-1].created_at, rows[-1].id)


def _export_values(s: CheckoutSession) -> tuple[str, ...]:
    email = (s.customer_details or {}).get("email") or (s.customer_data or {}).get("email") or ""
    return (
        str(s.id),
        format_timestamp(s.created_at),
        s.status,
        s.payment_status,
        s.checkout_mode,
        s.currency,
        str(s.amount_subtotal),
        str(s.amount_discount),
        str(s.amount_tax),
        str(s.amount_total),
        str(s.amount_received),
        str(s.customer_id or ""),
        email,
        s.client_reference_id or "",
        format_timestamp(s.expires_at),
        format_timestamp(s.completed_at) if s.completed_at else "",
        "true" if s.mode == "live" else "false",
    )


def _csv_line(values: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    # Cells that a spreadsheet would run as a formula are defused (CSV injection).
    csv.writer(buffer).writerow([("'" + v) if v[:1] in ("=", "+", "-", "@") else v for v in values])
    return buffer.getvalue()

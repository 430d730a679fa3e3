"""Reading sessions: one, a page, the completion poll, the streamed CSV export."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session, raiseload

from kassa.api.pagination import PageQuery, paginate, where_created_and_ids
from kassa.api.types import format_timestamp
from kassa.auth.keys import Principal
from kassa.checkout.models import CheckoutSession
from kassa.checkout.schemas import SessionFilters
from kassa.checkout.serialize import session_dicts
from kassa.checkout.state import Status
from kassa.errors import NotFound
from kassa.events.models import Event
from kassa.payments.models import ChainTransfer

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
# The columns `_export_values` reads, in one SELECT.
EXPORT_SOURCE = (
    CheckoutSession.id,
    CheckoutSession.created_at,
    CheckoutSession.status,
    CheckoutSession.payment_status,
    CheckoutSession.checkout_mode,
    CheckoutSession.currency,
    CheckoutSession.amount_subtotal,
    CheckoutSession.amount_discount,
    CheckoutSession.amount_tax,
    CheckoutSession.amount_total,
    CheckoutSession.amount_received,
    CheckoutSession.customer_id,
    CheckoutSession.customer_details,
    CheckoutSession.customer_data,
    CheckoutSession.client_reference_id,
    CheckoutSession.expires_at,
    CheckoutSession.completed_at,
    CheckoutSession.mode,
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
    # The slim objects read the first few line items themselves; loading them all would cost up to 100 per item.
    stmt = filtered(principal, filters).options(raiseload(CheckoutSession.line_items))
    page = paginate(db, stmt, CheckoutSession, query, lambda s: s, echo)
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
    if session.status == Status.COMPLETE:
        # The payment that completed it: the latest confirmed transfer that counts (sessions completed by the
        # merchant without one, e.g. nothing to pay, have no hash, and the contract makes the field optional).
        tx_hash = db.scalar(
            select(ChainTransfer.tx_hash)
            .where(
                ChainTransfer.session_id == session.id,
                ChainTransfer.state == "confirmed",
                ChainTransfer.kind == "payment",
            )
            .order_by(ChainTransfer.block_number.desc(), ChainTransfer.log_index.desc())
            .limit(1)
        )
        if tx_hash is not None:
            out["transactionHash"] = tx_hash
    return out


def export_rows(
    db: Session,
    principal: Principal,
    filters: SessionFilters,
    created_at: dict[str, datetime],
    ids: list[uuid.UUID],
) -> Iterator[str]:
    """CSV text in chunks of EXPORT_BATCH rows, newest first, from one query read as it streams.

    Only the exported columns are read (no ORM objects, no line items), EXPORT_BATCH rows at a time (a
    server-side cursor on PostgreSQL), so memory stays flat however many sessions there are. The caller holds
    one read transaction around the whole iteration: every row comes from one snapshot.
    """
    stmt = where_created_and_ids(filtered(principal, filters), CheckoutSession, created_at, ids)
    stmt = stmt.with_only_columns(*EXPORT_SOURCE).order_by(CheckoutSession.created_at.desc(), CheckoutSession.id.desc())
    result = db.execute(stmt.execution_options(yield_per=EXPORT_BATCH))
    yield _csv_lines([EXPORT_COLUMNS])  # after the query has started, so the first chunk proves it runs
    for rows in result.partitions():
        yield _csv_lines([_export_values(row) for row in rows])


def _export_values(s: Row[Any]) -> tuple[str, ...]:
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


def _csv_lines(rows: list[tuple[str, ...]]) -> str:
    buffer = io.StringIO()
    # Cells that a spreadsheet would run as a formula are defused (CSV injection).
    csv.writer(buffer).writerows([[("'" + v) if v[:1] in ("=", "+", "-", "@") else v for v in row] for row in rows])
    return buffer.getvalue()

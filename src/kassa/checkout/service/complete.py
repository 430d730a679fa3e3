"""Completion: runs exactly once per session, whoever calls it (watcher, auto-recover, the merchant).

The status moves by one conditional UPDATE (`… WHERE status IN (sources)`): of any number of concurrent
callers, one sees a row change and does the rest — turn the promotion code's reservation into a redemption,
create or update the customer, write `checkout_session.completed` — in its transaction; the others see no row
and do nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from kassa.auth.keys import Principal
from kassa.checkout.models import CheckoutSession
from kassa.checkout.service.events import emit_session_event
from kassa.checkout.state import PaymentStatus, Status, Transition, sources_of
from kassa.clock import Clock
from kassa.customers.models import Customer
from kassa.customers.schemas import CustomerCreate
from kassa.customers.service import create_customer
from kassa.discounts.redemption import redeem_reserved_promotion_code


def complete_session(
    db: Session,
    clock: Clock,
    session_id: uuid.UUID,
    *,
    public_url: str,
    amount_received: int | None = None,
    transition: Transition = Transition.COMPLETE,
) -> bool:
    """Move the session to complete/paid; True for the one caller that did it."""
    now = clock.now()
    values: dict[str, Any] = {
        "status": Status.COMPLETE.value,
        "payment_status": PaymentStatus.PAID.value,
        "payment_intent_status": "succeeded",
        "completed_at": now,
        "updated_at": now,
    }
    if amount_received is not None:
        values["amount_received"] = amount_received
    result = db.execute(
        update(CheckoutSession)
        .where(CheckoutSession.id == session_id, CheckoutSession.status.in_(sources_of(transition)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    if result.rowcount != 1:
        return False
    session = db.get(CheckoutSession, session_id, populate_existing=True)
    assert session is not None
    principal = Principal.of(session.organization_id, session.mode)
    if session.promotion_code_id is not None:
        redeem_reserved_promotion_code(db, principal, session.promotion_code_id)
    _settle_customer(db, clock, principal, session)
    emit_session_event(db, clock, public_url, session, "checkout_session.completed")
    return True


def _settle_customer(db: Session, clock: Clock, principal: Principal, session: CheckoutSession) -> None:
    details = session.customer_details or {}
    if session.customer_id is not None:
        customer = db.get(Customer, session.customer_id)
        if customer is None:
            return
        rules = session.customer_update or {}
        if rules.get("name") == "auto" and details.get("name"):
            customer.name = details["name"]
        if rules.get("address") == "auto" and (session.billing_details or {}).get("address"):
            customer.address = session.billing_details["address"]  # type: ignore[index]
        if rules.get("shipping") == "auto" and session.shipping_details:
            customer.shipping = session.shipping_details
        customer.updated_at = clock.now()
        return
    must_create = session.customer_creation == "always" or session.checkout_mode == "subscription"
    prefill = session.customer_data or {}
    email = details.get("email") or prefill.get("email")
    if not must_create or not email:
        return
    data = CustomerCreate.model_validate(
        {
            "email": email,
            "name": details.get("name") or prefill.get("name"),
            "phone": details.get("phone") or prefill.get("phone"),
            "address": (session.billing_details or {}).get("address") or prefill.get("address"),
            "shipping": session.shipping_details,
            "taxIds": prefill.get("taxIds"),
        }
    )
    session.customer_id = create_customer(db, clock, principal, data).id

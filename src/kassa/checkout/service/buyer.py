"""What the buyer may do on a checkout session from the hosted page; nothing here knows about HTTP.

The buyer side is split by use case: this module finds the session and holds the freeze rule and cancel;
`buyer_form` describes and validates the form the session asks for; `buyer_details` fills and stores the buyer's
answers; `buyer_pricing` applies promotion codes and pay-what-you-want amounts.

Every change starts with `ensure_editable`: the session must be open, not past its `expiresAt`, and no payment
may have been seen for it (once money is on its way, the amount, the code and the details it was sent for are
frozen). Changes flush; the page's request commits.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from kassa.api.runtime import Runtime
from kassa.checkout.models import CheckoutSession
from kassa.checkout.service.events import emit_session_event
from kassa.checkout.state import Status
from kassa.errors import BadRequest, Conflict
from kassa.events.models import Event
from kassa.payments import options as payments


class CheckoutClosed(BadRequest):
    code = "checkout_closed"


class DetailsFrozen(Conflict):
    code = "details_frozen"


def find_session(db: Session, session_id: uuid.UUID) -> CheckoutSession | None:
    """The session a page URL names: the id is the buyer's capability, so no organization scope applies."""
    # One query with its line items (joined, not the relationship's default second SELECT): pages are hot.
    return db.get(CheckoutSession, session_id, options=[joinedload(CheckoutSession.line_items)])


def payment_seen(db: Session, runtime: Runtime, session: CheckoutSession) -> bool:
    """Money confirmed or on its way for this session (from here on, what it pays for may not change)."""
    return payments.payment_seen(db, session)


def is_past_expiry(runtime: Runtime, session: CheckoutSession) -> bool:
    return session.status == Status.OPEN and session.expires_at <= runtime.settings.clock.now()


def ensure_editable(db: Session, runtime: Runtime, session: CheckoutSession) -> None:
    if session.status != Status.OPEN or is_past_expiry(runtime, session):
        raise CheckoutClosed("This checkout is no longer open.")
    if payment_seen(db, runtime, session):
        raise DetailsFrozen("A payment for this checkout has been seen, so its details can no longer change.")


def cancel(db: Session, runtime: Runtime, session: CheckoutSession) -> str | None:
    """The buyer leaves: record `checkout_session.canceled` (once per session); returns where to send them.

    The session stays open until it expires, as on Copperx: the buyer may come back to it.
    """
    if session.cancel_url is None:
        return None
    if session.status == Status.OPEN and not payment_seen(db, runtime, session):
        seen = db.scalar(
            select(Event.id).where(Event.object_id == session.id, Event.type == "checkout_session.canceled").limit(1)
        )
        if seen is None:
            emit_session_event(
                db, runtime.settings.clock, runtime.settings.public_url, session, "checkout_session.canceled"
            )
    return session.cancel_url

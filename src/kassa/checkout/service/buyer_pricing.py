"""What the buyer may change about the price: pay-what-you-want amounts and promotion codes.

Each change checks `buyer.ensure_editable` first, then reprices the session; changes flush, the page commits.
A session holding a promotion code holds one reserved redemption of it (`kassa.discounts.redemption`): applying,
replacing and removing a code, and leaving through the cancel link, move that reservation, with the session's
row locked so that expiry and completion (conditional UPDATEs on that row) see the code the session ends with.
Promotion code attempts are bounded per session by `CodeAttemptLimiter`, in the database.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kassa.api.runtime import Runtime
from kassa.auth.keys import Principal
from kassa.checkout.models import CheckoutSession, CodeAttempt
from kassa.checkout.pricing import apply_totals, discount_snapshot
from kassa.checkout.service.buyer import CheckoutClosed, DetailsFrozen, ensure_editable
from kassa.checkout.service.buyer_form import BuyerForm, parse_amount, validate_values
from kassa.db.types import new_id
from kassa.discounts.redemption import AppliedDiscount, release_promotion_code, reserve_promotion_code
from kassa.errors import BadRequest, TooManyRequests
from kassa.text import text_problem

CODE_MAX_LENGTH = 40


class TooManyCodeAttempts(TooManyRequests):
    def __init__(self, retry_after: int) -> None:
        minutes = max(1, -(-retry_after // 60))
        super().__init__(f"Too many promotion code attempts. Try again in {minutes} minute{'s' * (minutes > 1)}.")
        self.retry_after = retry_after


def set_amounts(
    db: Session, runtime: Runtime, session: CheckoutSession, form: BuyerForm, values: Mapping[str, str]
) -> dict[str, str]:
    """Store the valid pay-what-you-want amounts among `values` and reprice; returns the errors of the others."""
    rules = tuple(line.rule for line in form.amounts)
    if not rules:
        return {}
    ensure_editable(db, runtime, session)
    clean, errors = validate_values(rules, values)
    lines = {li.position: li for li in session.line_items}
    changed = False
    for line in form.amounts:
        if line.rule.name not in errors:
            amount = parse_amount(clean[line.rule.name])
            changed = changed or lines[line.position].unit_amount != amount
            lines[line.position].unit_amount = amount
    if changed:
        _reprice(db, runtime, session)
    return errors


def apply_code(
    db: Session, runtime: Runtime, session: CheckoutSession, code: str, limiter: CodeAttemptLimiter
) -> AppliedDiscount:
    """Apply the promotion code the buyer typed, reserving one redemption of it (and releasing the code it
    replaces), or raise PromotionCodeRejected saying why; the attempt is counted either way."""
    _lock(db, session)
    ensure_editable(db, runtime, session)
    if not session.allow_promotion_codes:
        raise BadRequest("promotionCode: this checkout does not take promotion codes")
    code = code.strip()
    if not code:
        raise BadRequest("promotionCode: enter a promotion code")
    if text_problem(code):
        raise BadRequest("promotionCode: must not contain control characters")
    limiter.hit(db, runtime.settings.clock.now(), session.id)
    subtotal = sum((li.unit_amount or 0) * li.quantity for li in session.line_items)
    applied = reserve_promotion_code(
        db,
        runtime.settings.clock,
        _owner(session),
        code[:CODE_MAX_LENGTH],
        amount=subtotal,
        currency=session.currency,
        replacing=session.promotion_code_id,
    )
    session.coupon_id = applied.coupon_id
    session.promotion_code_id = applied.promotion_code_id
    session.discount = discount_snapshot(applied)
    _reprice(db, runtime, session)
    return applied


def remove_code(db: Session, runtime: Runtime, session: CheckoutSession) -> None:
    _lock(db, session)
    ensure_editable(db, runtime, session)
    if not session.allow_promotion_codes:
        raise BadRequest("promotionCode: this checkout's discount cannot be removed")
    _drop_code(db, runtime, session)


def release_code_on_cancel(db: Session, runtime: Runtime, session: CheckoutSession) -> None:
    """The buyer left through the cancel link: the code's reservation goes back, so others may use it, and the
    session no longer shows the discount (a buyer who comes back may apply a code again)."""
    if session.promotion_code_id is None:
        return
    _lock(db, session)
    try:
        ensure_editable(db, runtime, session)
    except (CheckoutClosed, DetailsFrozen):
        return  # paid or closed: the reservation stays with the session until it completes or expires
    _drop_code(db, runtime, session)


def _drop_code(db: Session, runtime: Runtime, session: CheckoutSession) -> None:
    if session.promotion_code_id is not None:
        release_promotion_code(db, _owner(session), session.promotion_code_id)
    session.coupon_id = None
    session.promotion_code_id = None
    session.discount = None
    _reprice(db, runtime, session)


def _lock(db: Session, session: CheckoutSession) -> None:
    """Lock the session's row and reload it. Expiry and completion move the session by conditional UPDATEs
    (which then wait for this transaction) and settle the reservation of the code they read; without the lock,
    a code applied just as the session expired would keep its reservation for good."""
    db.execute(select(CheckoutSession.id).where(CheckoutSession.id == session.id).with_for_update()).all()
    db.refresh(session)


def _reprice(db: Session, runtime: Runtime, session: CheckoutSession) -> None:
    apply_totals(db, _owner(session), session)
    session.updated_at = runtime.settings.clock.now()
    db.flush()


def _owner(session: CheckoutSession) -> Principal:
    return Principal.of(session.organization_id, session.mode)


# ---------------------------------------------------------------------------------------------------------------
# Promotion code attempts


class CodeAttemptLimiter:
    """At most `limit` promotion code attempts per session in any `window`, counted in the database.

    The attempts are rows of `checkout_code_attempts`, so the bound holds across every process serving pages.
    `hit` runs in the page's transaction once the session's row is locked (`_lock`), so attempts on one session
    are counted one at a time. A rejected code is still counted: the page answers it with a 400 page and commits
    (only the reservation is undone, in its savepoint). An attempt refused by the limit itself is not counted.
    Rows older than the window are deleted at the session's next attempt: at most `limit` rows per session stay.
    """

    def __init__(self, limit: int = 10, window: timedelta = timedelta(minutes=10)) -> None:
        self.limit = limit
        self.window = window

    def hit(self, db: Session, now: datetime, session_id: uuid.UUID) -> None:
        """Count one attempt, or raise TooManyCodeAttempts (without counting it)."""
        db.execute(
            delete(CodeAttempt).where(
                CodeAttempt.session_id == session_id, CodeAttempt.attempted_at <= now - self.window
            )
        )
        recent = db.scalars(
            select(CodeAttempt.attempted_at)
            .where(CodeAttempt.session_id == session_id)
            .order_by(CodeAttempt.attempted_at)
        ).all()
        if len(recent) >= self.limit:
            raise TooManyCodeAttempts(math.ceil((recent[0] + self.window - now).total_seconds()))
        db.add(CodeAttempt(id=new_id(), session_id=session_id, attempted_at=now))
        db.flush()

"""What the buyer may change about the price: pay-what-you-want amounts and promotion codes.

Each change checks `buyer.ensure_editable` first, then reprices the session; changes flush, the page commits.
Promotion code attempts are bounded per session by `CodeAttemptLimiter`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session

from kassa.api.runtime import Runtime
from kassa.auth.keys import Principal
from kassa.checkout.models import CheckoutSession
from kassa.checkout.pricing import apply_totals, discount_snapshot
from kassa.checkout.service.buyer import ensure_editable
from kassa.checkout.service.buyer_form import BuyerForm, parse_amount, validate_values
from kassa.discounts.redemption import AppliedDiscount, validate_promotion_code
from kassa.errors import BadRequest, TooManyRequests

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
    """Apply the promotion code the buyer typed, or raise PromotionCodeRejected saying why."""
    ensure_editable(db, runtime, session)
    if not session.allow_promotion_codes:
        raise BadRequest("promotionCode: this checkout does not take promotion codes")
    code = code.strip()
    if not code:
        raise BadRequest("promotionCode: enter a promotion code")
    limiter.hit(str(session.id))
    subtotal = sum((li.unit_amount or 0) * li.quantity for li in session.line_items)
    applied = validate_promotion_code(
        db, runtime.settings.clock, _owner(session), code[:CODE_MAX_LENGTH], amount=subtotal, currency=session.currency
    )
    session.coupon_id = applied.coupon_id
    session.promotion_code_id = applied.promotion_code_id
    session.discount = discount_snapshot(applied)
    _reprice(db, runtime, session)
    return applied


def remove_code(db: Session, runtime: Runtime, session: CheckoutSession) -> None:
    ensure_editable(db, runtime, session)
    if not session.allow_promotion_codes:
        raise BadRequest("promotionCode: this checkout's discount cannot be removed")
    session.coupon_id = None
    session.promotion_code_id = None
    session.discount = None
    _reprice(db, runtime, session)


def _reprice(db: Session, runtime: Runtime, session: CheckoutSession) -> None:
    apply_totals(db, _owner(session), session)
    session.updated_at = runtime.settings.clock.now()
    db.flush()


def _owner(session: CheckoutSession) -> Principal:
    return Principal.of(session.organization_id, session.mode)


# ---------------------------------------------------------------------------------------------------------------
# Promotion code attempts


class CodeAttemptLimiter:
    """At most `limit` promotion code attempts per session in any `window` seconds, in this process.

    In memory on purpose: the codes a buyer can guess through one session are what it bounds, and a buyer cannot
    make new sessions (only the merchant's API key can). With N API processes behind a load balancer the bound is
    N × limit; keeping it exact across processes would need a table, which this does not earn.
    Memory is bounded: the least recently used sessions are forgotten past `max_sessions`.
    """

    def __init__(
        self,
        limit: int = 10,
        window: float = 600.0,
        *,
        max_sessions: int = 10_000,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_sessions = max_sessions
        self._now: Callable[[], float] = now
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Count one attempt, or raise TooManyCodeAttempts (without counting it)."""
        with self._lock:
            now = self._now()
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            self._hits[key] = hits
            if len(self._hits) > self.max_sessions:
                self._hits.popitem(last=False)
            if len(hits) >= self.limit:
                raise TooManyCodeAttempts(int(hits[0] + self.window - now) + 1)
            hits.append(now)

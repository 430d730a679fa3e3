"""What checkout needs from discounts: check a code a buyer typed, and count a redemption exactly once.

`validate_promotion_code` answers whether a code applies now and what it takes off; it computes no totals (the
checkout amounts module does). `redeem_promotion_code` runs when the payment completes; it never lets a code or
its coupon go past its maxRedemptions, however many sessions complete at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, CursorResult, Table, or_, select, update
from sqlalchemy.orm import Session

from kassa.auth.keys import Principal
from kassa.clock import Clock
from kassa.discounts.models import Coupon, PromotionCode, normalize_code
from kassa.discounts.status import coupon_status
from kassa.errors import BadRequest

RejectionReason = Literal["unknown", "expired", "disabled", "limit_reached", "currency_mismatch"]


class PromotionCodeRejected(BadRequest):
    """A promotion code that cannot be applied; `reason` is for machines, `buyer_message` for the buyer."""

    code = "promotion_code_rejected"

    def __init__(self, reason: RejectionReason, sentence: str) -> None:
        super().__init__(f"promotionCode: {sentence}")
        self.reason: RejectionReason = reason
        self.buyer_message = sentence[:1].upper() + sentence[1:] + "."


@dataclass(frozen=True)
class AppliedDiscount:
    coupon_id: uuid.UUID
    promotion_code_id: uuid.UUID
    code: str
    percent_off_e4: int | None  # 12.5 % -> 125000
    amount_off: int | None  # 8-decimal API units, in `currency`
    currency: str | None
    name: str  # the coupon's name, shown to the buyer


def validate_promotion_code(
    db: Session, clock: Clock, principal: Principal, code: str, *, amount: int, currency: str
) -> AppliedDiscount:
    """The discount `code` (any case) gives on a subtotal of `amount` in `currency`, or PromotionCodeRejected.

    `amount` is not needed by any rule yet (Copperx has no minimum order amount); a fixed-amount coupon larger
    than the subtotal still applies, and the amounts module caps the discount at the subtotal.
    """
    if amount < 0:
        raise ValueError("amount must not be negative")
    promo = db.scalar(
        select(PromotionCode).where(
            PromotionCode.organization_id == principal.organization_id,
            PromotionCode.mode == principal.mode,
            PromotionCode.code_normalized == normalize_code(code),
            PromotionCode.is_active,  # as the partial unique index's predicate reads
        )
    )
    if promo is None:
        raise PromotionCodeRejected("unknown", f"{code.strip()[:40]} is not a valid promotion code")
    check_usable(promo, clock.now())
    coupon = promo.coupon
    if coupon.amount_off is not None and coupon.currency != currency.strip().lower():
        shown = (coupon.currency or "").upper()
        raise PromotionCodeRejected("currency_mismatch", f"the promotion code {promo.code} only applies to {shown}")
    return AppliedDiscount(
        coupon_id=coupon.id,
        promotion_code_id=promo.id,
        code=promo.code,
        percent_off_e4=coupon.percent_off_e4,
        amount_off=coupon.amount_off,
        currency=coupon.currency,
        name=coupon.name,
    )


def check_usable(promo: PromotionCode, now: datetime, *, limits: bool = True) -> None:
    """Raise PromotionCodeRejected unless the code and its coupon are enabled, unexpired and (with `limits`)
    not used up."""
    coupon = promo.coupon
    status = coupon_status(coupon, now)
    if not promo.is_active or status == "disabled":
        raise PromotionCodeRejected("disabled", f"the promotion code {promo.code} is not active")
    if status == "expired" or (promo.expired_at is not None and promo.expired_at <= now):
        raise PromotionCodeRejected("expired", f"the promotion code {promo.code} has expired")
    if limits and (status == "limit_reached" or _used_up(promo.times_redeemed, promo.max_redemptions)):
        raise PromotionCodeRejected("limit_reached", f"the promotion code {promo.code} has been used up")


def _used_up(times_redeemed: int, max_redemptions: int | None) -> bool:
    return max_redemptions is not None and times_redeemed >= max_redemptions


def redeem_promotion_code(db: Session, clock: Clock, principal: Principal, promotion_code_id: uuid.UUID) -> None:
    """Count one redemption of the code and of its coupon, or raise PromotionCodeRejected (and count nothing).

    Each counter moves by one conditional UPDATE (`… WHERE times_redeemed < max_redemptions`, plus the enabled
    and expiry conditions), so the check and the increment are one atomic step: PostgreSQL re-evaluates the
    condition on the row a concurrent redeemer just committed, and SQLite runs writers one at a time. Both
    UPDATEs run in a savepoint, undone together when either matches no row.
    """
    now = clock.now()
    promo = db.scalar(
        select(PromotionCode).where(
            PromotionCode.id == promotion_code_id,
            PromotionCode.organization_id == principal.organization_id,
            PromotionCode.mode == principal.mode,
        )
    )
    if promo is None:
        raise PromotionCodeRejected("unknown", "the promotion code does not exist")
    check_usable(promo, now, limits=False)
    if _increment_both(db, promo, now):
        db.expire(promo, ["times_redeemed"])
        db.expire(promo.coupon, ["times_redeemed"])
        return
    # Nothing was counted: find out why from the rows as they are now.
    db.refresh(promo)
    db.refresh(promo.coupon)
    check_usable(promo, now)
    raise PromotionCodeRejected("limit_reached", f"the promotion code {promo.code} has been used up")


def _increment_both(db: Session, promo: PromotionCode, now: datetime) -> bool:
    codes = cast(Table, PromotionCode.__table__)
    coupons = cast(Table, Coupon.__table__)
    savepoint = db.begin_nested()
    try:
        # Coupon row first, then the code: the order in which archiving locks them, so the two cannot deadlock.
        counted = _increment(
            db,
            coupons,
            promo.coupon_id,
            coupons.c.is_enable.is_(True),
            coupons.c.is_archived.is_(False),
            _not_reached(coupons.c.redeem_by, now),
        )
        counted = counted and _increment(
            db, codes, promo.id, codes.c.is_active.is_(True), _not_reached(codes.c.expired_at, now)
        )
    except BaseException:
        savepoint.rollback()
        raise
    if counted:
        savepoint.commit()
    else:
        savepoint.rollback()
    return counted


def _increment(db: Session, table: Table, row_id: uuid.UUID, *conditions: ColumnElement[bool]) -> bool:
    # Core UPDATE on the table: one statement, no ORM bulk-update bookkeeping.
    result = db.execute(
        update(table)
        .where(
            table.c.id == row_id,
            or_(table.c.max_redemptions.is_(None), table.c.times_redeemed < table.c.max_redemptions),
            *conditions,
        )
        .values(times_redeemed=table.c.times_redeemed + 1)
    )
    return cast(CursorResult[Any], result).rowcount == 1


def _not_reached(deadline: ColumnElement[Any], now: datetime) -> ColumnElement[bool]:
    return or_(deadline.is_(None), deadline > now)

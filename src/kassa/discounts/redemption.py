"""What checkout needs from discounts: check a code, reserve a redemption when a session takes the code, and
release it or turn it into a redemption when the session ends.

`validate_promotion_code` answers whether a code applies now and what it takes off; it computes no totals (the
checkout amounts module does). `reserve_promotion_code` is what applying a code does (at session creation and on
the hosted page): it counts one reservation on the code and on its coupon, and never lets
`times_redeemed + times_reserved` pass maxRedemptions, however many sessions apply the code at once. The
session's end moves that reservation: `release_promotion_code` (expired, canceled, code removed or replaced) or
`redeem_reserved_promotion_code` (completed). A session holds a reservation exactly while it is open or paid in
part and names a promotion code, so a completed session's redemption is never refused: the buyer paid the
discounted amount and the code had room for it when it was applied.
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
from kassa.logs import get_logger

log = get_logger("kassa.discounts")

RejectionReason = Literal["unknown", "expired", "disabled", "limit_reached", "currency_mismatch"]


class PromotionCodeRejected(BadRequest):
    """A promotion code that cannot be applied; `reason` is for machines, `buyer_message` for the buyer."""

    code = "promotion_code_rejected"

    def __init__(self, reason: RejectionReason, sentence: str) -> None:
        super().__init__(f"promotionCode: {sentence}")
        self.reason: RejectionReason = reason
        self.sentence = sentence
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
    return _applicable(db, clock.now(), principal, code, currency, limits=True)


def _applicable(
    db: Session, now: datetime, principal: Principal, code: str, currency: str, *, limits: bool
) -> AppliedDiscount:
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
    check_usable(promo, now, limits=limits)
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
    if limits and (_used_up(coupon) or _used_up(promo)):
        raise PromotionCodeRejected("limit_reached", f"the promotion code {promo.code} has been used up")


def _used_up(row: Coupon | PromotionCode) -> bool:
    """No room for one more: the redemptions made and those reserved by open sessions reach the limit."""
    return row.max_redemptions is not None and row.times_redeemed + row.times_reserved >= row.max_redemptions


def reserve_promotion_code(
    db: Session,
    clock: Clock,
    principal: Principal,
    code: str,
    *,
    amount: int,
    currency: str,
    replacing: uuid.UUID | None = None,
) -> AppliedDiscount:
    """Apply `code` to a session: validate it and reserve one redemption, or raise PromotionCodeRejected (and
    reserve nothing).

    `replacing` is the promotion code the session holds now, if any: its reservation is released in the same step,
    and kept as it is when the same code is applied again. Each counter moves by one conditional UPDATE
    (`… WHERE times_redeemed + times_reserved < max_redemptions`, plus the enabled and expiry conditions), so the
    check and the increment are one atomic step: PostgreSQL re-evaluates the condition on the row a concurrent
    reserver just committed, and SQLite runs writers one at a time. All UPDATEs run in one savepoint, undone
    together when any matches no row. Rows are locked coupons first, then codes (as archiving does), so
    concurrent callers cannot deadlock.
    """
    if amount < 0:
        raise ValueError("amount must not be negative")
    now = clock.now()
    # The limits are left to the UPDATE: the code being replaced may hold the very room this one needs.
    applied = _applicable(db, now, principal, code, currency, limits=False)
    if applied.promotion_code_id == replacing:
        return applied
    savepoint = db.begin_nested()
    try:
        if replacing is not None:
            _lock_rows(db, [replacing, applied.promotion_code_id])
            _end_reservation(db, principal, replacing, redeem=False)
        reserved = _increment_both(db, principal, applied, now)
    except BaseException:
        savepoint.rollback()
        raise
    if reserved:
        savepoint.commit()
        return applied
    savepoint.rollback()
    # Nothing was reserved: find out why from the rows as they are now.
    promo = db.get(PromotionCode, applied.promotion_code_id, populate_existing=True)
    assert promo is not None
    db.refresh(promo.coupon)
    check_usable(promo, now)
    raise PromotionCodeRejected("limit_reached", f"the promotion code {promo.code} has been used up")


def release_promotion_code(db: Session, principal: Principal, promotion_code_id: uuid.UUID) -> None:
    """Give back the redemption a session reserved: it expired or was canceled, or the buyer removed the code."""
    _end_reservation(db, principal, promotion_code_id, redeem=False)


def redeem_reserved_promotion_code(db: Session, principal: Principal, promotion_code_id: uuid.UUID) -> None:
    """At completion: the session's reservation becomes a redemption, on the code and on its coupon.

    Never refused, whatever happened to the coupon since (disabled, expired, a lower limit): the buyer has paid
    the discounted amount, and the count says how many did.
    """
    _end_reservation(db, principal, promotion_code_id, redeem=True)


def _lock_rows(db: Session, promotion_code_ids: list[uuid.UUID]) -> None:
    """Lock the codes' coupons, then the codes, each in id order (a no-op on SQLite, whose writers take turns)."""
    codes = select(PromotionCode.id, PromotionCode.coupon_id).where(PromotionCode.id.in_(promotion_code_ids))
    coupon_ids = sorted({row.coupon_id for row in db.execute(codes)})
    db.execute(select(Coupon.id).where(Coupon.id.in_(coupon_ids)).order_by(Coupon.id).with_for_update()).all()
    db.execute(codes.order_by(PromotionCode.id).with_for_update()).all()


def _increment_both(db: Session, principal: Principal, applied: AppliedDiscount, now: datetime) -> bool:
    codes = cast(Table, PromotionCode.__table__)
    coupons = cast(Table, Coupon.__table__)
    # Coupon row first, then the code: the order in which archiving locks them, so the two cannot deadlock.
    counted = _reserve(
        db,
        coupons,
        applied.coupon_id,
        principal,
        coupons.c.is_enable.is_(True),
        coupons.c.is_archived.is_(False),
        _not_reached(coupons.c.redeem_by, now),
    )
    counted = counted and _reserve(
        db,
        codes,
        applied.promotion_code_id,
        principal,
        codes.c.is_active.is_(True),
        _not_reached(codes.c.expired_at, now),
    )
    if counted:
        _forget_counters(db, applied.coupon_id, applied.promotion_code_id)
    return counted


def _reserve(
    db: Session, table: Table, row_id: uuid.UUID, principal: Principal, *conditions: ColumnElement[bool]
) -> bool:
    # Core UPDATE on the table: one statement, no ORM bulk-update bookkeeping.
    result = db.execute(
        update(table)
        .where(
            table.c.id == row_id,
            table.c.organization_id == principal.organization_id,
            table.c.mode == principal.mode,
            or_(
                table.c.max_redemptions.is_(None),
                table.c.times_redeemed + table.c.times_reserved < table.c.max_redemptions,
            ),
            *conditions,
        )
        .values(times_reserved=table.c.times_reserved + 1)
    )
    return cast(CursorResult[Any], result).rowcount == 1


def _end_reservation(db: Session, principal: Principal, promotion_code_id: uuid.UUID, *, redeem: bool) -> None:
    """Take one reservation off the code and its coupon; with `redeem`, count one redemption instead."""
    coupon_id = db.scalar(
        select(PromotionCode.coupon_id).where(
            PromotionCode.id == promotion_code_id,
            PromotionCode.organization_id == principal.organization_id,
            PromotionCode.mode == principal.mode,
        )
    )
    if coupon_id is None:
        log.warning("promotion code of a session not found", promotion_code_id=str(promotion_code_id))
        return
    # Coupon row first, then the code, as everywhere.
    for table, row_id in (
        (cast(Table, Coupon.__table__), coupon_id),
        (cast(Table, PromotionCode.__table__), promotion_code_id),
    ):
        counted = {"times_redeemed": table.c.times_redeemed + 1} if redeem else {}
        moved = db.execute(
            update(table)
            .where(table.c.id == row_id, table.c.times_reserved > 0)
            .values(times_reserved=table.c.times_reserved - 1, **counted)
        )
        if cast(CursorResult[Any], moved).rowcount != 1:
            # Cannot happen while every session that names a code holds its reservation; still count what was paid.
            log.warning("no reservation held", table=table.name, row_id=str(row_id))
            if counted:
                db.execute(update(table).where(table.c.id == row_id).values(**counted))
    _forget_counters(db, coupon_id, promotion_code_id)


def _forget_counters(db: Session, coupon_id: uuid.UUID, promotion_code_id: uuid.UUID) -> None:
    """The UPDATEs bypassed the ORM: reload the counters of loaded rows on their next use."""
    for model, row_id in ((Coupon, coupon_id), (PromotionCode, promotion_code_id)):
        loaded = db.identity_map.get(db.identity_key(model, row_id))
        if loaded is not None:
            db.expire(loaded, ["times_redeemed", "times_reserved"])


def _not_reached(deadline: ColumnElement[Any], now: datetime) -> ColumnElement[bool]:
    return or_(deadline.is_(None), deadline > now)

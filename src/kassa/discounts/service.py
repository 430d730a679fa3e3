"""Coupons: create (with their promotion code), read, update, enable, disable, archive, list.

Always scoped to the caller's organization and mode. Checkout uses `kassa.discounts.redemption` instead.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kassa.api.pagination import PageQuery, paginate
from kassa.auth.keys import Principal
from kassa.clock import Clock
from kassa.db.types import new_id
from kassa.discounts.models import Coupon, PromotionCode, normalize_code
from kassa.discounts.schemas import (
    CouponCreate,
    CouponFilters,
    CouponOut,
    CouponUpdate,
    PromotionCodeIn,
    PromotionCodeOut,
)
from kassa.discounts.status import code_is_active, coupon_status, status_condition
from kassa.errors import BadRequest, NotFound

CODE_FIELD = "promotionCodeData.data.0"
# Fields of a coupon fixed at creation (Python name, wire name).
FIXED_FIELDS = (("percent_off", "percentOff"), ("amount_off", "amountOff"), ("currency", "currency"))


def scoped(principal: Principal) -> Select[Coupon]:
    return select(Coupon).where(Coupon.organization_id == principal.organization_id, Coupon.mode == principal.mode)


def get_coupon(db: Session, principal: Principal, coupon_id: uuid.UUID, *, for_update: bool = False) -> Coupon:
    stmt = scoped(principal).where(Coupon.id == coupon_id)
    # The row lock orders a change of limits or state after (or before) a concurrent redemption's UPDATE.
    coupon = db.scalar(stmt.with_for_update() if for_update else stmt)
    if coupon is None:
        raise NotFound(f"Coupon {coupon_id} not found")
    return coupon


def create_coupon(db: Session, clock: Clock, principal: Principal, data: CouponCreate) -> Coupon:
    now = clock.now()
    item = data.promotion_code_data.data[0]
    errors = _discount_problems(data) + _date_and_limit_problems(data, item, now)
    if errors:
        raise BadRequest(errors)
    coupon = Coupon(
        id=new_id(),
        **principal.stamp(now),
        name=data.name,
        percent_off_e4=data.percent_off,
        amount_off=data.amount_off,
        currency=data.currency.value if data.currency else None,
        max_redemptions=data.max_redemptions,
        times_redeemed=0,
        redeem_by=data.redeem_by,
        is_enable=data.is_enable,
        is_archived=False,
        metadata_=data.metadata,
    )
    PromotionCode(
        id=new_id(),
        **principal.stamp(now),
        coupon=coupon,
        code=item.code,
        code_normalized=normalize_code(item.code),
        is_active=True,
        expired_at=item.expired_at,
        max_redemptions=item.max_redemptions,
        times_redeemed=0,
        metadata_=item.metadata,
    )
    try:
        # The partial unique index decides between concurrent creators: on PostgreSQL the second insert waits for
        # the first transaction and then fails; on SQLite writers are serialized. The savepoint keeps the
        # session usable after the failure.
        with db.begin_nested():
            db.add(coupon)
    except IntegrityError:
        raise BadRequest(f"{CODE_FIELD}.code: '{item.code}' is already in use by another active coupon") from None
    return coupon


def _discount_problems(data: CouponCreate) -> list[str]:
    if data.percent_off is None and data.amount_off is None:
        return ["percentOff: one of percentOff or amountOff is required"]
    if data.percent_off is not None and data.amount_off is not None:
        return ["percentOff: send only one of percentOff and amountOff, not both"]
    if data.amount_off is not None and data.currency is None:
        return ["currency: is required with amountOff"]
    if data.percent_off is not None and data.currency is not None:
        return ["currency: only applies to amountOff coupons; leave it out with percentOff"]
    return []


def _date_and_limit_problems(data: CouponCreate, item: PromotionCodeIn, now: datetime) -> list[str]:
    errors: list[str] = []
    if data.redeem_by is not None and data.redeem_by <= now:
        errors.append("redeemBy: must be in the future")
    if item.expired_at is not None:
        if item.expired_at <= now:
            errors.append(f"{CODE_FIELD}.expiredAt: must be in the future")
        elif data.redeem_by is not None and item.expired_at > data.redeem_by:
            errors.append(f"{CODE_FIELD}.expiredAt: must not be after the coupon's redeemBy")
    code_max, coupon_max = item.max_redemptions, data.max_redemptions
    if code_max is not None and coupon_max is not None and code_max > coupon_max:
        errors.append(f"{CODE_FIELD}.maxRedemptions: must not exceed the coupon's maxRedemptions")
    return errors


def update_coupon(db: Session, clock: Clock, principal: Principal, coupon_id: uuid.UUID, data: CouponUpdate) -> Coupon:
    """PUT: `name` is required (as in the contract); other fields change only when sent (null clears)."""
    coupon = get_coupon(db, principal, coupon_id, for_update=True)
    now = clock.now()
    sent = data.model_fields_set
    errors = [f"{wire}: cannot be changed after the coupon is created" for name, wire in FIXED_FIELDS if name in sent]
    taken = coupon.times_redeemed + coupon.times_reserved
    if data.max_redemptions is not None and data.max_redemptions < taken:
        # Reserved redemptions are open sessions holding the code; each may still complete.
        errors.append(
            f"maxRedemptions: must not be below timesRedeemed ({coupon.times_redeemed}) plus the redemptions "
            f"reserved by open checkout sessions ({coupon.times_reserved})"
        )
    if data.redeem_by is not None and data.redeem_by <= now:
        errors.append("redeemBy: must be in the future")
    if data.is_enable and coupon.is_archived:
        errors.append("isEnable: an archived coupon cannot be enabled again")
    if errors:
        raise BadRequest(errors)
    coupon.name = data.name
    if "max_redemptions" in sent:
        coupon.max_redemptions = data.max_redemptions
    if "redeem_by" in sent:
        coupon.redeem_by = data.redeem_by
    if "metadata" in sent:
        coupon.metadata_ = data.metadata
    if data.is_enable is not None:
        coupon.is_enable = data.is_enable
    coupon.updated_at = now
    db.flush()
    return coupon


def enable_coupon(db: Session, clock: Clock, principal: Principal, coupon_id: uuid.UUID) -> Coupon:
    coupon = get_coupon(db, principal, coupon_id, for_update=True)
    if coupon.is_archived:
        raise BadRequest("isEnable: an archived coupon cannot be enabled again")
    return _set_enabled(db, clock, coupon, True)


def disable_coupon(db: Session, clock: Clock, principal: Principal, coupon_id: uuid.UUID) -> Coupon:
    return _set_enabled(db, clock, get_coupon(db, principal, coupon_id, for_update=True), False)


def _set_enabled(db: Session, clock: Clock, coupon: Coupon, enabled: bool) -> Coupon:
    if coupon.is_enable != enabled:
        coupon.is_enable = enabled
        coupon.updated_at = clock.now()
        db.flush()
    return coupon


def archive_coupon(db: Session, clock: Clock, principal: Principal, coupon_id: uuid.UUID) -> Coupon:
    """Archive for good: the coupon is disabled and its codes are released for use by new coupons."""
    coupon = get_coupon(db, principal, coupon_id, for_update=True)
    if coupon.is_archived:
        return coupon
    now = clock.now()
    coupon.is_archived = True
    coupon.archived_at = now
    coupon.is_enable = False
    coupon.updated_at = now
    for code in coupon.promotion_codes:
        code.is_active = False
        code.updated_at = now
    db.flush()
    return coupon


def list_coupons(
    db: Session, clock: Clock, principal: Principal, query: PageQuery, filters: CouponFilters
) -> dict[str, Any]:
    now = clock.now()
    stmt = scoped(principal)
    if filters.search_text:
        needle = filters.search_text.lower()
        code_matches = (
            select(PromotionCode.id)
            .where(PromotionCode.coupon_id == Coupon.id)
            .where(PromotionCode.code_normalized.contains(needle, autoescape=True))
            .exists()
        )
        stmt = stmt.where(or_(func.lower(Coupon.name).contains(needle, autoescape=True), code_matches))
    if filters.is_enable is not None:
        stmt = stmt.where(Coupon.is_enable.is_(filters.is_enable))
    if filters.is_archived is not None:
        stmt = stmt.where(Coupon.is_archived.is_(filters.is_archived))
    if filters.status is not None:
        stmt = stmt.where(status_condition(filters.status, now))
    echo = filters.model_dump(by_alias=True, exclude_none=True)
    return paginate(db, stmt, Coupon, query, lambda coupon: to_out(coupon, now), echo)


def to_out(coupon: Coupon, now: datetime) -> CouponOut:
    return CouponOut(
        id=coupon.id,
        organization_id=coupon.organization_id,
        name=coupon.name,
        percent_off=coupon.percent_off_e4,
        amount_off=coupon.amount_off,
        currency=coupon.currency,
        max_redemptions=coupon.max_redemptions,
        redeem_by=coupon.redeem_by,
        is_enable=coupon.is_enable,
        created_at=coupon.created_at,
        updated_at=coupon.updated_at,
        metadata=coupon.metadata_,
        is_archived=coupon.is_archived,
        archived_at=coupon.archived_at,
        promotion_codes=[_code_out(code) for code in coupon.promotion_codes],
        status=coupon_status(coupon, now),
        times_redeemed=coupon.times_redeemed,
        livemode=coupon.mode == "live",
    )


def _code_out(code: PromotionCode) -> PromotionCodeOut:
    return PromotionCodeOut(
        id=code.id,
        organization_id=code.organization_id,
        code=code.code,
        coupon_id=code.coupon_id,
        is_active=code_is_active(code),
        expired_at=code.expired_at,
        max_redemptions=code.max_redemptions,
        times_redeemed=code.times_redeemed,
        created_at=code.created_at,
        metadata=code.metadata_,
    )

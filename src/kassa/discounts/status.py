"""A coupon's status, derived at read time from the clock; the same rules in Python and in SQL (for filters).

disabled (not enabled, or archived) > expired (redeemBy reached) > limit_reached (timesRedeemed >= maxRedemptions)
> active.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, not_, or_

from kassa.discounts.models import Coupon, PromotionCode
from kassa.discounts.schemas import CouponStatus


def coupon_status(coupon: Coupon, now: datetime) -> CouponStatus:
    if not coupon.is_enable or coupon.is_archived:
        return "disabled"
    if coupon.redeem_by is not None and coupon.redeem_by <= now:
        return "expired"
    if coupon.max_redemptions is not None and coupon.times_redeemed >= coupon.max_redemptions:
        return "limit_reached"
    return "active"


def code_is_active(code: PromotionCode) -> bool:
    """The API's isActive: the code still holds its text and its coupon is enabled."""
    return code.is_active and code.coupon.is_enable and not code.coupon.is_archived


def enabled_condition() -> ColumnElement[bool]:
    return and_(Coupon.is_enable.is_(True), Coupon.is_archived.is_(False))


def expired_condition(now: datetime) -> ColumnElement[bool]:
    return and_(Coupon.redeem_by.is_not(None), Coupon.redeem_by <= now)


def used_up_condition() -> ColumnElement[bool]:
    return and_(Coupon.max_redemptions.is_not(None), Coupon.times_redeemed >= Coupon.max_redemptions)


def status_condition(status: CouponStatus, now: datetime) -> ColumnElement[bool]:
    """A WHERE clause selecting the coupons whose coupon_status(…, now) is `status`."""
    if status == "disabled":
        return not_(enabled_condition())
    if status == "expired":
        return and_(enabled_condition(), expired_condition(now))
    if status == "limit_reached":
        return and_(enabled_condition(), not_(expired_condition(now)), used_up_condition())
    return and_(enabled_condition(), not_(or_(expired_condition(now), used_up_condition())))

"""Coupons and their promotion codes.

A coupon takes either a percentage (`percent_off_e4`, 12.5 % -> 125000) or a fixed amount in one currency off a
subtotal. Buyers type a promotion code, which points at its coupon; both count their redemptions and may cap them.
Both also count the redemptions reserved by open checkout sessions holding the code (`times_reserved`): a code
may be applied only while `times_redeemed + times_reserved < max_redemptions` (see `kassa.discounts.redemption`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kassa.db.base import Base, OwnedMixin
from kassa.db.types import UTCDateTime


class Coupon(OwnedMixin, Base):
    __tablename__ = "coupons"
    __table_args__ = (Index("ix_coupons_org_mode_created", "organization_id", "mode", "created_at"),)

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    # Exactly one of percent_off_e4 and amount_off is set; currency goes with amount_off.
    percent_off_e4: Mapped[int | None] = mapped_column(Integer)
    amount_off: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(10))
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    times_redeemed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    times_reserved: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    redeem_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_enable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_archived: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)

    promotion_codes: Mapped[list[PromotionCode]] = relationship(
        back_populates="coupon", lazy="selectin", order_by="PromotionCode.created_at"
    )


class PromotionCode(OwnedMixin, Base):
    __tablename__ = "promotion_codes"
    __table_args__ = (
        # A code is unique, regardless of case, among the organization's (and mode's) active codes; archiving the
        # coupon deactivates its codes, which frees them for reuse. The index makes this hold under concurrency.
        Index(
            "uq_promotion_codes_org_mode_active_code",
            "organization_id",
            "mode",
            "code_normalized",
            unique=True,
            # Each dialect's predicate is written the way SQLAlchemy renders `.where(PromotionCode.is_active)`
            # there, so the lookups by code can use this index (SQLite matches predicates textually).
            sqlite_where=text("is_active = 1"),
            postgresql_where=text("is_active"),
        ),
    )

    coupon_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("coupons.id", ondelete="CASCADE"), nullable=False, index=True
    )
    code: Mapped[str] = mapped_column(String(20), nullable=False)
    # The code as looked up: lower-cased.
    code_normalized: Mapped[str] = mapped_column(String(20), nullable=False)
    # False once the coupon is archived. The API's isActive also requires the coupon to be enabled.
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    times_redeemed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    times_reserved: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)

    coupon: Mapped[Coupon] = relationship(back_populates="promotion_codes")


def normalize_code(code: str) -> str:
    return code.strip().lower()

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kassa.db.base import Base, IdMixin, OwnedMixin
from kassa.db.types import UTCDateTime, new_id


class CheckoutSession(OwnedMixin, Base):
    __tablename__ = "checkout_sessions"
    __table_args__ = (
        Index("ix_checkout_sessions_org_mode_created", "organization_id", "mode", "created_at"),
        Index("ix_checkout_sessions_status_expires", "status", "expires_at"),
    )

    # Copperx's `mode` (payment | subscription); `mode` itself is test | live.
    checkout_mode: Mapped[str] = mapped_column(String(12), nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False)
    payment_status: Mapped[str] = mapped_column(String(8), nullable=False)
    currency: Mapped[str] = mapped_column(String(10), nullable=False)
    amount_subtotal: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_discount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_tax: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # True while a pay-what-you-want line waits for the buyer's amount (totals count it as 0 until then).
    amount_pending: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    amount_received: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    success_url: Mapped[str] = mapped_column(String(2048), nullable=False)
    cancel_url: Mapped[str | None] = mapped_column(String(2048))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    client_reference_id: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    customer_creation: Mapped[str] = mapped_column(String(12), nullable=False)
    customer_update: Mapped[dict[str, str] | None] = mapped_column(JSON)
    customer_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    name_collection: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    email_collection: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    phone_number_collection: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    billing_address_collection: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    shipping_address_collection: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    custom_fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    after_completion: Mapped[str | None] = mapped_column(String(24))
    after_completion_confirm_msg: Mapped[str | None] = mapped_column(Text)
    submit_type: Mapped[str] = mapped_column(String(8), nullable=False)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    allow_promotion_codes: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    default_promotion_code: Mapped[str | None] = mapped_column(String(40))
    # The discount applied, as it was when applied (coupon fields are copied so later edits do not move totals).
    discount: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    coupon_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    promotion_code_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    tax_rate_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    payment_setting: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    customer_details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    shipping_details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    billing_details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    custom_field_values: Mapped[dict[str, str] | None] = mapped_column(JSON)
    payment_intent_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, default=new_id, index=True)
    payment_intent_status: Mapped[str] = mapped_column(String(24), nullable=False)
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    payment_link_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A refund the merchant made outside Kassa and recorded with POST /payment-intents/{id}/mark-as-refund.
    marked_refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mark_refunded_comment: Mapped[str | None] = mapped_column(Text)

    line_items: Mapped[list[CheckoutLineItem]] = relationship(
        back_populates="session", order_by="CheckoutLineItem.position", lazy="selectin", cascade="all"
    )


class CheckoutLineItem(IdMixin, Base):
    __tablename__ = "checkout_line_items"

    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("checkout_sessions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    price_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    # Null until the buyer names the amount of a pay-what-you-want price.
    unit_amount: Mapped[int | None] = mapped_column(BigInteger)
    tax_rate_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    amount_subtotal: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_discount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_tax: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Per-rate tax amounts: [{"taxRateId", "amount", "inclusive"}].
    taxes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)

    session: Mapped[CheckoutSession] = relationship(back_populates="line_items")


class CodeAttempt(IdMixin, Base):
    """One promotion code the buyer tried on the hosted page; `buyer_pricing.CodeAttemptLimiter` counts them.

    In the database so the limit holds across every process serving pages; rows older than the window are
    deleted as the session's next attempt is counted."""

    __tablename__ = "checkout_code_attempts"
    __table_args__ = (Index("ix_checkout_code_attempts_session_attempted", "session_id", "attempted_at"),)

    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("checkout_sessions.id", ondelete="CASCADE"), nullable=False
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

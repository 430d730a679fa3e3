"""Create a checkout session: resolve prices, taxes, the customer and the default code; price it; schedule
its expiry; all in the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from kassa.auth.keys import Principal
from kassa.catalog import service as catalog
from kassa.catalog.models import Price, Product
from kassa.catalog.schemas import PriceCreate
from kassa.chains.registry import ChainRegistry
from kassa.checkout.jobs import expire_session_job
from kassa.checkout.models import CheckoutLineItem, CheckoutSession
from kassa.checkout.pricing import apply_totals, discount_input, discount_snapshot
from kassa.checkout.schemas import SESSION_ID_PLACEHOLDER, LineItemIn, PaymentSettingIn, SessionCreate
from kassa.checkout.state import PaymentStatus, Status
from kassa.clock import Clock
from kassa.customers.service import get_customer
from kassa.db.types import new_id
from kassa.discounts.redemption import PromotionCodeRejected, reserve_promotion_code
from kassa.errors import BadRequest, NotFound
from kassa.jobs.queue import enqueue
from kassa.payments.deposit import assign_addresses
from kassa.taxes.service import get_active_tax_rates

DEFAULT_LIFETIME = timedelta(hours=1)
MIN_LIFETIME = timedelta(minutes=30)
MAX_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class ResolvedItem:
    price: Price
    product: Product
    quantity: int
    tax_rate_ids: list[uuid.UUID] | None


def create_session(
    db: Session, clock: Clock, principal: Principal, chains: ChainRegistry, data: SessionCreate
) -> CheckoutSession:
    now = clock.now()
    session_id = new_id()
    expires_at = data.expires_at or now + DEFAULT_LIFETIME
    if not now + MIN_LIFETIME - timedelta(seconds=5) <= expires_at <= now + MAX_LIFETIME:
        raise BadRequest("expiresAt: must be between 30 minutes and 24 hours from now")
    items = [_resolve_item(db, clock, principal, item, i) for i, item in enumerate(data.line_items.data)]
    currency = _one_currency(items)
    _check_mode(data.mode, items)
    if data.customer_id is not None:
        try:
            get_customer(db, principal, data.customer_id)
        except NotFound:
            raise BadRequest(f"customerId: customer {data.customer_id} does not exist") from None
    session_rates = get_active_tax_rates(db, principal, data.tax_rate_ids or [])
    for index, item in enumerate(items):
        if item.tax_rate_ids:
            try:
                get_active_tax_rates(db, principal, item.tax_rate_ids)
            except BadRequest as exc:
                raise BadRequest([f"lineItems.data.{index}.{m}" for m in _messages(exc)]) from None
    session = CheckoutSession(
        id=session_id,
        **principal.stamp(now),
        checkout_mode=data.mode,
        status=Status.OPEN.value,
        payment_status=PaymentStatus.UNPAID.value,
        payment_intent_status="requires_payment_method",
        currency=currency,
        amount_received=0,
        success_url=data.success_url.replace(SESSION_ID_PLACEHOLDER, str(session_id)),
        cancel_url=data.cancel_url.replace(SESSION_ID_PLACEHOLDER, str(session_id)) if data.cancel_url else None,
        expires_at=expires_at,
        client_reference_id=data.client_reference_id,
        customer_id=data.customer_id,
        customer_creation=data.customer_creation,
        customer_update=data.customer_update.model_dump() if data.customer_update else None,
        customer_data=data.customer_data.model_dump(mode="json", by_alias=True, exclude_none=True)
        if data.customer_data
        else None,
        name_collection=data.name_collection,
        email_collection=data.email_collection,
        phone_number_collection=data.phone_number_collection,
        billing_address_collection=data.billing_address_collection,
        shipping_address_collection=data.shipping_address_collection,
        custom_fields=[f.model_dump(by_alias=True, exclude_none=True) for f in data.custom_fields.fields]
        if data.custom_fields
        else [],
        after_completion=data.after_completion,
        after_completion_confirm_msg=data.after_completion_confirm_msg,
        submit_type=data.submit_type,
        metadata_=data.metadata,
        allow_promotion_codes=data.allow_promotion_codes,
        default_promotion_code=data.default_promotion_code,
        tax_rate_ids=[str(r.id) for r in session_rates],
        payment_setting=_payment_setting(principal, chains, data.payment_setting),
        amount_subtotal=0,
        amount_discount=0,
        amount_tax=0,
        amount_total=0,
    )
    session.line_items = [
        CheckoutLineItem(
            id=new_id(),
            session_id=session_id,
            position=index,
            price_id=item.price.id,
            product_id=item.product.id,
            quantity=item.quantity,
            unit_amount=item.price.unit_amount,
            tax_rate_ids=[str(t) for t in item.tax_rate_ids] if item.tax_rate_ids else [],
            amount_subtotal=0,
            amount_discount=0,
            amount_tax=0,
            amount_total=0,
            taxes=[],
        )
        for index, item in enumerate(items)
    ]
    if data.default_promotion_code:
        _apply_default_code(db, clock, principal, session, data.default_promotion_code)
    apply_totals(db, principal, session)
    db.add(session)
    db.flush()
    assign_addresses(db, clock, chains, session)
    enqueue(db, clock, expire_session_job, session.id, run_at=expires_at)
    return session


def _apply_default_code(db: Session, clock: Clock, principal: Principal, session: CheckoutSession, code: str) -> None:
    """Reserve one redemption of the code for this session (released if it expires, redeemed if it completes)."""
    subtotal = sum((li.unit_amount or 0) * li.quantity for li in session.line_items)
    try:
        applied = reserve_promotion_code(db, clock, principal, code, amount=subtotal, currency=session.currency)
    except PromotionCodeRejected as exc:
        if exc.reason == "limit_reached":
            # Sessions compete for the last redemptions: the merchant must learn that this one lost.
            raise BadRequest(f"defaultPromotionCode: {exc.sentence}", code=exc.code) from None
        return  # as the contract says for an unknown or expired code: the session is created without it
    session.coupon_id = applied.coupon_id
    session.promotion_code_id = applied.promotion_code_id
    session.discount = discount_snapshot(applied)
    assert discount_input(session) is not None


def _resolve_item(db: Session, clock: Clock, principal: Principal, item: LineItemIn, index: int) -> ResolvedItem:
    where = f"lineItems.data.{index}"
    if item.price_id is not None:
        price = db.scalar(catalog.scoped_prices(principal).where(Price.id == item.price_id))
        if price is None:
            raise BadRequest(f"{where}.priceId: price {item.price_id} does not exist")
        product = db.get(Product, price.product_id)
        assert product is not None
        if not price.is_active:
            raise BadRequest(f"{where}.priceId: price {price.id} is not active")
        if not product.is_active or product.deleted_at is not None:
            raise BadRequest(f"{where}.priceId: the product of price {price.id} is not active")
    else:
        assert item.price_data is not None
        inline = item.price_data
        if inline.product_id is not None:
            product_row = db.scalar(catalog.scoped_products(principal).where(Product.id == inline.product_id))
            if product_row is None:
                raise BadRequest(f"{where}.priceData.productId: product {inline.product_id} does not exist")
            if not product_row.is_active:
                raise BadRequest(f"{where}.priceData.productId: product {inline.product_id} is not active")
        request = PriceCreate.model_validate(inline.model_dump(by_alias=True, exclude_none=True) | {"visibility": 20})
        price = catalog.create_price(db, clock, principal, request)
        product = db.get(Product, price.product_id)
        assert product is not None
    if price.is_custom and item.quantity != 1:
        raise BadRequest(f"{where}.quantity: a pay-what-you-want price is sold with quantity 1")
    return ResolvedItem(price, product, item.quantity, item.tax_rate_ids)


def _one_currency(items: list[ResolvedItem]) -> str:
    currency = items[0].price.currency
    for index, item in enumerate(items):
        if item.price.currency != currency:
            raise BadRequest(
                f"lineItems.data.{index}: currency {item.price.currency} differs from {currency}; "
                "all line items of a session must share one currency"
            )
    return currency


def _check_mode(mode: str, items: list[ResolvedItem]) -> None:
    if mode == "payment":
        for index, item in enumerate(items):
            if item.price.type == "recurring":
                raise BadRequest(
                    f"lineItems.data.{index}: price {item.price.id} is recurring; use mode subscription for it"
                )
        return
    cycles = set()
    for index, item in enumerate(items):
        if item.price.type != "recurring":
            raise BadRequest(f"lineItems.data.{index}: subscription mode needs recurring prices")
        cycles.add((item.price.interval, item.price.interval_count))
    if len(cycles) > 1:
        raise BadRequest("lineItems: all recurring prices of a subscription must share one billing interval")


def _payment_setting(principal: Principal, chains: ChainRegistry, setting: PaymentSettingIn | None) -> dict[str, Any]:
    """Validate the chains a session may be paid on; with none named, every enabled chain of the mode."""
    if setting is None or setting.allowed_chains is None:
        allowed = [{"chainId": c.id, "blacklistCurrencies": []} for c in chains.for_mode(principal.mode)]
        base = setting.model_dump(by_alias=True, exclude={"allowed_chains"}) if setting else {}
        return {"allowSwap": False, "allowFiatPayment": False, **base, "allowedChains": allowed}
    errors = []
    for index, entry in enumerate(setting.allowed_chains):
        chain = chains.get(entry.chain_id)
        where = f"paymentSetting.allowedChains.{index}.chainId"
        if chain is None:
            errors.append(f"{where}: unknown chain {entry.chain_id}")
        elif chain.testnet != (principal.mode == "test"):
            kind = "a testnet" if chain.testnet else "a mainnet"
            errors.append(f"{where}: chain {entry.chain_id} is {kind}, not usable with a {principal.mode}-mode key")
        elif not chain.enabled:
            errors.append(f"{where}: chain {entry.chain_id} is not enabled on this Kassa server (no RPC URL)")
    if errors:
        raise BadRequest(errors)
    return setting.model_dump(mode="json", by_alias=True, exclude_none=True)


def _messages(exc: BadRequest) -> list[str]:
    return exc.message if isinstance(exc.message, list) else [exc.message]

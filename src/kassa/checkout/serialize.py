"""Checkout sessions in Copperx's CheckoutSessionDto shape (and the slim shape of lists).

Built as plain dicts: the object is large and rendered on hot paths (create, poll, the hosted page), and
pydantic adds nothing here that the contract tests do not check.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from kassa.api.types import format_timestamp
from kassa.auth.keys import Principal
from kassa.catalog.models import Price, Product
from kassa.catalog.serialize import price_out
from kassa.checkout.models import CheckoutLineItem, CheckoutSession
from kassa.checkout.pricing import line_rate_ids, tax_rates_by_id
from kassa.customers.models import Customer
from kassa.customers.service import to_out as customer_out
from kassa.payments.cursors import chain_heads
from kassa.payments.serialize import address_dict, load_for_sessions, transfer_dict
from kassa.taxes.models import TaxRate
from kassa.taxes.schemas import format_percentage_e4


def _ts(value: Any) -> str | None:
    return format_timestamp(value) if value is not None else None


def _amount(value: int | None) -> str | None:
    return str(value) if value is not None else None


def _percentage(e4: int) -> float:
    # A JSON number: e4 has at most 4 decimals, so the shortest float repr is exactly these digits.
    return float(format_percentage_e4(e4))


def session_url(public_url: str, session_id: uuid.UUID) -> str:
    return f"{public_url}/pay/{session_id}"


# A list item carries at most this many line items (as Stripe's embedded lists), with `lineItems.hasMore`; the
# retrieve carries them all (at most 100). It bounds a list page: 200 sessions × 10 lines, not × 100.
LIST_LINE_ITEMS = 10


def session_dict(db: Session, public_url: str, session: CheckoutSession) -> dict[str, Any]:
    return session_dicts(db, public_url, [session], slim=False)[0]


def session_dicts(db: Session, public_url: str, sessions: list[CheckoutSession], *, slim: bool) -> list[dict[str, Any]]:
    """Render sessions with their line items, loading prices, products and tax rates once for all of them.

    `slim` (lists) leaves out the expanded customer and the buyer's details, as Copperx's slim object does, and
    carries the first LIST_LINE_ITEMS line items only: load the sessions with `raiseload(line_items)`, since
    they are read here, LIST_LINE_ITEMS + 1 per session.
    """
    if not sessions:
        return []
    more: set[uuid.UUID] = set()
    if slim:
        session_lines = first_line_items(db, [s.id for s in sessions], LIST_LINE_ITEMS + 1)
        more = {sid for sid, lines in session_lines.items() if len(lines) > LIST_LINE_ITEMS}
        session_lines = {sid: lines[:LIST_LINE_ITEMS] for sid, lines in session_lines.items()}
    else:
        session_lines = {s.id: list(s.line_items) for s in sessions}
    per_session = [line_rate_ids(s, session_lines.get(s.id, [])) for s in sessions]
    rates: dict[str, TaxRate] = {}
    by_owner: dict[tuple[uuid.UUID, str], set[str]] = {}
    for s, per_line in zip(sessions, per_session, strict=True):
        by_owner.setdefault((s.organization_id, s.mode), set()).update(i for ids in per_line for i in ids)
    for (org, mode), ids in by_owner.items():
        rates.update(tax_rates_by_id(db, Principal.of(org, mode), ids))
    lines = [li for s in sessions for li in session_lines.get(s.id, [])]
    prices = {p.id: p for p in _load(db, Price, {li.price_id for li in lines})}
    products = {p.id: p for p in _load(db, Product, {li.product_id for li in lines})}
    # One dict per price, shared by every line that shows it: a page renders each price once.
    price_dicts: dict[tuple[uuid.UUID, uuid.UUID], dict[str, Any]] = {}
    for li in lines:
        if (key := (li.price_id, li.product_id)) not in price_dicts:
            price_dicts[key] = price_out(prices[li.price_id], products[li.product_id]).model_dump(
                mode="json", by_alias=True
            )
    addresses, transfers = load_for_sessions(db, [s.id for s in sessions])
    heads = chain_heads(db, {t.chain_id for ts in transfers.values() for t in ts})
    customers: dict[uuid.UUID, Customer] = {}
    if not slim:
        customers = {c.id: c for c in _load(db, Customer, {s.customer_id for s in sessions if s.customer_id})}
    out = []
    for session, per_line in zip(sessions, per_session, strict=True):
        item = slim_dict(public_url, session)
        item["lineItems"] = {
            "object": "list",
            "data": [
                _line_dict(li, price_dicts[li.price_id, li.product_id], products[li.product_id], ids, rates, session)
                for li, ids in zip(session_lines.get(session.id, []), per_line, strict=True)
            ],
            "hasMore": session.id in more,
        }
        deposits = {a.chain_id: a for a in addresses.get(session.id, [])}
        session_transfers = transfers.get(session.id, [])
        item["paymentIntent"] = _payment_intent(session)
        item["paymentIntent"]["transactions"] = [
            transfer_dict(t, deposits.get(t.chain_id), heads) for t in session_transfers if t.state != "orphaned"
        ]
        if session.status in ("open", "incomplete") and any(
            t.state == "pending" and t.kind == "payment" for t in session_transfers
        ):
            item["paymentIntent"]["status"] = "processing"
        item["addresses"] = [address_dict(a) for a in addresses.get(session.id, [])]
        item["amountDetails"] = _amount_details(session)
        item["discounts"] = _discounts(session)
        if not slim:
            customer = customers.get(session.customer_id) if session.customer_id else None
            item.update(
                {
                    "customer": customer_out(customer).model_dump(mode="json", by_alias=True) if customer else None,
                    "customerDetails": session.customer_details,
                    "shippingDetails": session.shipping_details,
                    "billingDetails": session.billing_details,
                    "customFields": {"fields": _custom_fields(session)},
                    "customerData": session.customer_data,
                    "customerUpdate": session.customer_update,
                    "taxRateIds": list(session.tax_rate_ids),
                }
            )
        out.append(item)
    return out


def slim_dict(public_url: str, session: CheckoutSession) -> dict[str, Any]:
    return {
        "id": str(session.id),
        "object": "checkout_session",
        "createdAt": _ts(session.created_at),
        "updatedAt": _ts(session.updated_at),
        "organizationId": str(session.organization_id),
        "livemode": session.mode == "live",
        "mode": session.checkout_mode,
        "paymentLinkId": str(session.payment_link_id) if session.payment_link_id else None,
        "subscriptionId": str(session.subscription_id) if session.subscription_id else None,
        "invoiceId": None,
        "status": session.status,
        "paymentStatus": session.payment_status,
        "currency": session.currency,
        "amountSubtotal": str(session.amount_subtotal),
        "amountTotal": str(session.amount_total),
        "amountDiscount": str(session.amount_discount),
        "amountTax": str(session.amount_tax),
        "amountFee": "0",
        "amountGasFee": "0",
        "amountNet": str(session.amount_total),
        "amountReceived": str(session.amount_received),
        "amountPending": session.amount_pending,
        "expiresAt": _ts(session.expires_at),
        "completedAt": _ts(session.completed_at),
        "expiredAt": _ts(session.expired_at),
        "url": session_url(public_url, session.id),
        "successUrl": session.success_url,
        "cancelUrl": session.cancel_url,
        "clientReferenceId": session.client_reference_id,
        "customerId": str(session.customer_id) if session.customer_id else None,
        "customerCreation": session.customer_creation,
        "submitType": session.submit_type,
        "metadata": session.metadata_,
        "nameCollection": session.name_collection,
        "emailCollection": session.email_collection,
        "phoneNumberCollection": session.phone_number_collection,
        "billingAddressCollection": session.billing_address_collection,
        "shippingAddressCollection": session.shipping_address_collection,
        "afterCompletion": session.after_completion,
        "afterCompletionConfirmMsg": session.after_completion_confirm_msg,
        "allowPromotionCodes": session.allow_promotion_codes,
        "defaultPromotionCode": session.default_promotion_code,
        "paymentSetting": session.payment_setting,
        "paymentMethodTypes": ["wallet"],
        "isManualPayment": False,
        "isMarkRefunded": session.marked_refunded_at is not None,
    }


def _load(db: Session, model: Any, ids: set[uuid.UUID]) -> list[Any]:
    return list(db.scalars(select(model).where(model.id.in_(ids)))) if ids else []


def first_line_items(db: Session, session_ids: list[uuid.UUID], per_session: int) -> dict[uuid.UUID, list[Any]]:
    """The first `per_session` line items of each session, in order, in one query (a window over positions)."""
    ranked = select(
        CheckoutLineItem,
        func.row_number()
        .over(partition_by=CheckoutLineItem.session_id, order_by=CheckoutLineItem.position)
        .label("rank"),
    ).where(CheckoutLineItem.session_id.in_(session_ids))
    window = ranked.subquery()
    line = aliased(CheckoutLineItem, window)
    out: dict[uuid.UUID, list[Any]] = {sid: [] for sid in session_ids}
    for li in db.scalars(select(line).where(window.c.rank <= per_session).order_by(line.session_id, line.position)):
        out[li.session_id].append(li)
    return out


def _line_dict(
    li: Any,
    price: dict[str, Any],
    product: Product,
    rate_ids: list[str],
    rates: dict[str, TaxRate],
    session: CheckoutSession,
) -> dict[str, Any]:
    taxes = {t["taxRateId"]: t["amount"] for t in li.taxes}
    return {
        "id": str(li.id),
        "object": "item",
        "description": product.name,
        "quantity": li.quantity,
        "price": price,
        "unitAmount": _amount(li.unit_amount),
        "taxRates": [
            {
                "id": str(rates[i].id),
                "name": rates[i].name,
                "description": rates[i].description,
                "country": rates[i].country,
                "percentage": _percentage(rates[i].percentage_e4),
                "type": rates[i].type,
                "isDefault": not li.tax_rate_ids,
                "amount": str(taxes.get(i, 0)),
            }
            for i in rate_ids
            if i in rates
        ],
        "amountSubtotal": str(li.amount_subtotal),
        "amountDiscount": str(li.amount_discount),
        "amountTax": str(li.amount_tax),
        "amountTotal": str(li.amount_total),
        "currency": session.currency,
    }


def _amount_details(session: CheckoutSession) -> dict[str, Any]:
    return {
        "currency": session.currency,
        "amountTotal": str(session.amount_total),
        "amountSubtotal": str(session.amount_subtotal),
        "amountDiscount": str(session.amount_discount),
        "amountTax": str(session.amount_tax),
        "amountFee": "0",
        "amountGasFee": "0",
        "feePercentage": 0,
        "applyFee": False,
        "applyGasFee": False,
        "discountAmounts": [{"amount": str(session.amount_discount), "couponId": session.discount["couponId"]}]
        if session.discount
        else [],
    }


def _discounts(session: CheckoutSession) -> list[dict[str, Any]]:
    if not session.discount:
        return []
    d = session.discount
    return [
        {
            "amount": str(session.amount_discount),
            "couponId": d["couponId"],
            "promotionCodeId": d["promotionCodeId"],
            "coupon": {
                "name": d["name"],
                "percentOff": _percentage(d["percentOffE4"]) if d.get("percentOffE4") is not None else None,
                "amountOff": _amount(d.get("amountOff")),
                "currency": d.get("currency"),
                "code": d["code"],
            },
        }
    ]


def _custom_fields(session: CheckoutSession) -> list[dict[str, Any]]:
    values = session.custom_field_values or {}
    out = []
    for field in session.custom_fields:
        item = dict(field)
        kind = field["type"]
        item[kind] = {**field.get(kind, {}), "value": values.get(field["key"], "")}
        out.append(item)
    return out


def _payment_intent(session: CheckoutSession) -> dict[str, Any]:
    return {
        "id": str(session.payment_intent_id),
        "object": "payment_intent",
        "createdAt": _ts(session.created_at),
        "updatedAt": _ts(session.updated_at),
        "organizationId": str(session.organization_id),
        "amount": str(session.amount_total),
        "amountReceived": str(session.amount_received),
        "currency": session.currency,
        "status": session.payment_intent_status,
        # Required by the contract; Kassa has no stored payment methods, so it is the nil UUID.
        "paymentMethodId": "00000000-0000-0000-0000-000000000000",
        "paymentMethodTypes": ["wallet"],
        "transactions": [],  # filled by session_dicts
        "canceledAt": _ts(session.canceled_at),
        # A refund made outside Kassa, recorded by the merchant (POST /payment-intents/{id}/mark-as-refund).
        "isMarkRefunded": session.marked_refunded_at is not None,
        "markRefundedAt": _ts(session.marked_refunded_at),
        "markRefundedComment": session.mark_refunded_comment,
    }

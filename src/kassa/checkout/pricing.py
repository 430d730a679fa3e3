"""Puts a session's numbers in place: reads its lines, discount and tax rates, runs `amounts`, stores totals.

Used at creation and again whenever the buyer changes something that moves them (a promotion code, a
pay-what-you-want amount). Each time it first checks the money limits (`kassa.money`) on the largest totals the
session can reach: before any discount, with each pay-what-you-want line still open at `MAX_UNIT_AMOUNT` (the
most a buyer may type). A session that passes at creation therefore passes whatever the buyer does later."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kassa.auth.keys import Principal
from kassa.checkout import amounts
from kassa.checkout.models import CheckoutLineItem, CheckoutSession
from kassa.discounts.redemption import AppliedDiscount
from kassa.errors import BadRequest
from kassa.money import MAX_UNIT_AMOUNT
from kassa.taxes.models import TaxRate


def discount_snapshot(applied: AppliedDiscount) -> dict[str, Any]:
    return {
        "couponId": str(applied.coupon_id),
        "promotionCodeId": str(applied.promotion_code_id),
        "code": applied.code,
        "name": applied.name,
        "percentOffE4": applied.percent_off_e4,
        "amountOff": applied.amount_off,
        "currency": applied.currency,
    }


def discount_input(session: CheckoutSession) -> amounts.DiscountInput | None:
    if not session.discount:
        return None
    return amounts.DiscountInput(
        percent_off_e4=session.discount.get("percentOffE4"), amount_off=session.discount.get("amountOff")
    )


def line_rate_ids(session: CheckoutSession, lines: Sequence[CheckoutLineItem] | None = None) -> list[list[str]]:
    """Each line's tax rates: its own, or else the session's (of `lines`, by default all the session's)."""
    return [li.tax_rate_ids or list(session.tax_rate_ids) for li in (session.line_items if lines is None else lines)]


def tax_rates_by_id(db: Session, principal: Principal, ids: set[str]) -> dict[str, TaxRate]:
    if not ids:
        return {}
    rows = db.scalars(
        select(TaxRate).where(
            TaxRate.organization_id == principal.organization_id,
            TaxRate.mode == principal.mode,
            TaxRate.id.in_([uuid.UUID(i) for i in ids]),
        )
    )
    return {str(r.id): r for r in rows}


def apply_totals(db: Session, principal: Principal, session: CheckoutSession) -> None:
    per_line = line_rate_ids(session)
    rates = tax_rates_by_id(db, principal, {i for ids in per_line for i in ids})
    inputs = [
        amounts.LineInput(
            unit_amount=li.unit_amount or 0,
            quantity=li.quantity,
            tax_rates=tuple(amounts.TaxRateInput(i, rates[i].percentage_e4, rates[i].type == "inclusive") for i in ids),
        )
        for li, ids in zip(session.line_items, per_line, strict=True)
    ]
    check_limits(inputs, pending=[li.unit_amount is None for li in session.line_items])
    totals = amounts.compute_totals(inputs, discount_input(session))
    for li, line in zip(session.line_items, totals.lines, strict=True):
        li.amount_subtotal = line.subtotal
        li.amount_discount = line.discount
        li.amount_tax = line.tax
        li.amount_total = line.total
        li.taxes = [{"taxRateId": t.tax_rate_id, "amount": t.amount, "inclusive": t.inclusive} for t in line.taxes]
    session.amount_subtotal = totals.subtotal
    session.amount_discount = totals.discount
    session.amount_tax = totals.tax
    session.amount_total = totals.total
    session.amount_pending = any(li.unit_amount is None for li in session.line_items)


def check_limits(inputs: list[amounts.LineInput], *, pending: list[bool]) -> None:
    """Raise BadRequest naming each amount past its limit; `pending` marks pay-what-you-want lines still open."""
    largest = [
        replace(line, unit_amount=MAX_UNIT_AMOUNT) if is_open else line
        for line, is_open in zip(inputs, pending, strict=True)
    ]
    breaches = amounts.limit_breaches(largest)
    if not breaches:
        return
    note = f" (an open pay-what-you-want line counts at {MAX_UNIT_AMOUNT}, the most a buyer may enter)"
    raise BadRequest([_limit_message(b) + (note if any(pending) else "") for b in breaches])


def _limit_message(breach: amounts.LimitBreach) -> str:
    amount, limit, line = breach.amount, breach.limit, f"lineItems.data.{breach.line}"
    match breach.kind:
        case "line_subtotal":
            return f"{line}.quantity: unit amount × quantity is {amount}, more than the largest line amount, {limit}"
        case "subtotal":
            return f"lineItems: the lines add up to {amount}, more than the largest session amount, {limit}"
        case "total":
            return f"amountTotal: with tax the session comes to {amount}, more than the largest session amount, {limit}"

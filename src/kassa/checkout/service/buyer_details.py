"""The buyer's answers to the form: what the page shows in the fields, and storing what the buyer typed.

The fields show the buyer's stored answers first, then the merchant's `customerData`, then the attached customer.
Storing checks `buyer.ensure_editable` first; it flushes, the page's request commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from kassa.api.runtime import Runtime
from kassa.checkout.models import CheckoutSession
from kassa.checkout.service.buyer import ensure_editable
from kassa.checkout.service.buyer_form import ADDRESS_PARTS, BuyerForm, format_plain, validate_values
from kassa.checkout.service.buyer_pricing import set_amounts
from kassa.checkout.service.complete import complete_session
from kassa.customers.models import Customer

CONTACT_KEYS = ("name", "email", "phone")
_CAMEL = {"postal_code": "postalCode"}


# ---------------------------------------------------------------------------------------------------------------
# What the page shows in the fields


def stored_values(session: CheckoutSession) -> dict[str, str]:
    out = _contact_values(session.customer_details or {})
    out |= _address_values("billing", session.billing_details or {})
    out |= _shipping_values(session.shipping_details or {})
    for key, value in (session.custom_field_values or {}).items():
        out[f"custom_{key}"] = value
    for li in session.line_items:
        if li.unit_amount is not None:
            out[f"amount_{li.position}"] = format_plain(li.unit_amount)
    return out


def prefill_values(db: Session, session: CheckoutSession, form: BuyerForm) -> dict[str, str]:
    """Initial field values: the buyer's stored answers, else `customerData`, else the attached customer."""
    sources: list[Mapping[str, Any]] = [session.customer_data or {}]
    if session.customer_id is not None:
        customer = db.get(Customer, session.customer_id)
        if customer is not None and customer.deleted_at is None:
            sources.append(
                {
                    "name": customer.name,
                    "email": customer.email,
                    "phone": customer.phone,
                    "address": customer.address,
                    "shipping": customer.shipping,
                }
            )
    out: dict[str, str] = {}
    for source in reversed(sources):  # earlier sources win
        out |= _contact_values(source)
        out |= _address_values("billing", source)
        out |= _shipping_values(source.get("shipping") or {})
    if session.shipping_address_collection and out.get("name"):
        out.setdefault("shipping_name", out["name"])
    for line in form.amounts:
        if line.preset is not None:
            out[line.rule.name] = format_plain(line.preset)
    return out | stored_values(session)


def details_complete(session: CheckoutSession, form: BuyerForm) -> bool:
    """Has the buyer given everything the session asks for (so the payment step may show)?"""
    _, errors = validate_values(form.all, stored_values(session))
    return not errors


def _contact_values(source: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(source[key]) for key in CONTACT_KEYS if source.get(key)}


def _address_values(prefix: str, holder: Mapping[str, Any]) -> dict[str, str]:
    """`holder["address"]` (camelCase keys, as stored) as the fields `{prefix}_{part}`; empty parts left out."""
    address = holder.get("address") or {}
    out: dict[str, str] = {}
    for part, *_ in ADDRESS_PARTS:
        value = address.get(_CAMEL.get(part, part))
        if value:
            out[f"{prefix}_{part}"] = str(value)
    return out


def _shipping_values(shipping: Mapping[str, Any]) -> dict[str, str]:
    out = {"shipping_name": str(shipping["name"])} if shipping.get("name") else {}
    return out | _address_values("shipping", shipping)


# ---------------------------------------------------------------------------------------------------------------
# Storing what the buyer typed


def submit_details(
    db: Session, runtime: Runtime, session: CheckoutSession, form: BuyerForm, values: Mapping[str, str]
) -> dict[str, str]:
    """Validate and store everything the buyer typed; returns field errors (and stores nothing) if any."""
    ensure_editable(db, runtime, session)
    clean, errors = validate_values(form.all, values)
    if errors:
        return errors
    set_amounts(db, runtime, session, form, clean)
    contact = {k: clean[k] for k in CONTACT_KEYS if clean.get(k)}
    billing = _address(clean, "billing") if form.billing else None
    session.customer_details = (contact | ({"address": billing} if billing else {})) or None
    session.billing_details = (contact | {"address": billing}) if billing else None
    if form.shipping:
        session.shipping_details = {"name": clean["shipping_name"], "address": _address(clean, "shipping")}
    session.custom_field_values = {r.name.removeprefix("custom_"): clean[r.name] for r in form.custom} or None
    session.updated_at = runtime.settings.clock.now()
    db.flush()
    if session.amount_total == 0 and not session.amount_pending:
        # Nothing to pay (a 100 % discount): the details were all the session needed.
        complete_session(db, runtime.settings.clock, session.id, public_url=runtime.settings.public_url)
    return {}


def _address(clean: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {
        _CAMEL.get(part, part): clean[f"{prefix}_{part}"] for part, *_ in ADDRESS_PARTS if clean[f"{prefix}_{part}"]
    }

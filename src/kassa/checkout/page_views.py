"""What the hosted page shows: the per-process page state, the template contexts, and amounts and progress in words.

Nothing here writes: the contexts are built from a loaded session and the payments seam, for `pages` to render.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import segno
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request

from kassa.api.runtime import Runtime
from kassa.auth.models import Organization
from kassa.catalog.models import Price, Product
from kassa.checkout.models import CheckoutSession
from kassa.checkout.page_security import csrf_token
from kassa.checkout.service.buyer_form import BuyerForm, buyer_form, load_catalog
from kassa.checkout.service.buyer_pricing import CodeAttemptLimiter
from kassa.checkout.state import Status
from kassa.payments import options as payments
from kassa.taxes.schemas import format_percentage_e4

SUBMIT_VERBS = {"pay": "Pay", "book": "Book", "donate": "Donate"}


# ---------------------------------------------------------------------------------------------------------------
# Per-process state


class MerchantNames:
    """Organization names and support emails for the page header, kept `ttl` seconds: read on every page view,
    changed rarely (a rename shows within the ttl)."""

    def __init__(self, ttl: float = 30.0, max_items: int = 10_000) -> None:
        self.ttl = ttl
        self.max_items = max_items
        self._items: dict[uuid.UUID, tuple[float, str, str | None]] = {}
        self._lock = threading.Lock()

    def get(self, db: Session, organization_id: uuid.UUID) -> tuple[str, str | None]:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(organization_id)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
        row = db.execute(
            select(Organization.name, Organization.support_email).where(Organization.id == organization_id)
        ).first()
        name, email = (row.name, row.support_email) if row is not None else ("Checkout", None)
        with self._lock:
            if len(self._items) >= self.max_items:
                self._items.clear()
            self._items[organization_id] = (now + self.ttl, name, email)
        return name, email


@dataclass(frozen=True)
class PageState:
    secret: bytes
    limiter: CodeAttemptLimiter
    merchants: MerchantNames


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def state_of(request: Request) -> PageState:
    state: PageState = request.app.state.pages
    return state


# ---------------------------------------------------------------------------------------------------------------
# The details page


@dataclass(frozen=True)
class Loaded:
    """A session with what its page shows: line item prices and products, and the form it asks for."""

    session: CheckoutSession
    prices: dict[uuid.UUID, Price]
    products: dict[uuid.UUID, Product]
    form: BuyerForm


def load_page(db: Session, session: CheckoutSession) -> Loaded:
    prices, products = load_catalog(db, session)
    return Loaded(session, prices, products, buyer_form(db, session, prices))


def base_context(db: Session, request: Request, session: CheckoutSession) -> dict[str, Any]:
    state = state_of(request)
    merchant, support_email = state.merchants.get(db, session.organization_id)
    verb = SUBMIT_VERBS.get(session.submit_type, "Pay")
    unit = session.currency.upper()
    return {
        "session": session,
        "merchant": merchant,
        "support_email": support_email,
        "test_mode": session.mode == "test",
        "verb": verb,
        "total": None if session.amount_pending else f"{format_amount(session.amount_total)} {unit}",
        "csrf": csrf_token(state.secret, session.id),
        "urls": {
            "page": f"/pay/{session.id}",
            "payment": f"/pay/{session.id}/payment",
            "cancel": f"/pay/{session.id}/cancel",
            "status": f"/pay/{session.id}/status",
            "done": f"/pay/{session.id}/done",
            "test_wallet": f"/pay/{session.id}/test-wallet",
        },
        "cancel_url": session.cancel_url,
        "success_url": session.success_url,
    }


def summary_context(loaded: Loaded) -> dict[str, Any]:
    session, products = loaded.session, loaded.products
    amount_lines = {line.position: line for line in loaded.form.amounts}
    unit = session.currency.upper()
    lines = []
    for li in session.line_items:
        product = products[li.product_id]
        image = next((i for i in product.images if isinstance(i, str) and i.startswith("https://")), None)
        lines.append(
            {
                "name": product.name,
                "description": product.description,
                "image": image,
                "quantity": li.quantity,
                "unit": f"{format_amount(li.unit_amount)} {unit}" if li.unit_amount is not None else None,
                "amount": f"{format_amount(li.amount_subtotal)} {unit}" if li.unit_amount is not None else "—",
                "custom": amount_lines.get(li.position),
            }
        )
    discount = session.discount
    all_inclusive = all(t.get("inclusive") for li in session.line_items for t in li.taxes)
    return {
        "lines": lines,
        "unit": unit,
        "subtotal": format_amount(session.amount_subtotal),
        "discount_amount": format_amount(session.amount_discount),
        "tax": format_amount(session.amount_tax) if session.amount_tax else None,
        "tax_label": "Tax (included)" if all_inclusive else "Tax",
        "discount": {"code": discount["code"], "what": _discount_words(discount, unit)} if discount else None,
        "promo_allowed": session.allow_promotion_codes,
        "expires_at": session.expires_at.isoformat(),
    }


def _discount_words(discount: Mapping[str, Any], unit: str) -> str:
    if discount.get("percentOffE4") is not None:
        return f"{format_percentage_e4(discount['percentOffE4'])}% off"
    return f"{format_amount(discount.get('amountOff') or 0)} {unit} off"


# ---------------------------------------------------------------------------------------------------------------
# The payment step


def payment_context(
    db: Session,
    request: Request,
    session: CheckoutSession,
    options: list[payments.PaymentOption],
    progress: payments.PaymentProgress,
    chosen: str | None,
) -> dict[str, Any]:
    """Everything payment.html shows; a function of its own so the template can be rendered from any options."""
    runtime = runtime_of(request)
    selected = next((o for o in options if option_key(o) == chosen), options[0] if options else None)
    chain = runtime.chains.get(selected.chain_id) if selected else None
    context = base_context(db, request, session)
    context |= {
        "options": [_option_view(o, session, o is selected) for o in options],
        "selected": _option_view(selected, session, True) if selected else None,
        "native_currency": (chain.native_currency if chain else "eth").upper(),
        "qr": Markup(_qr_svg(selected.eip681_uri)) if selected else None,  # noqa: S704  # segno's own SVG
        "progress": progress_view(progress, session.currency),
        "test_wallet": bool(selected) and payments.test_wallet_available(runtime, session),
        "frozen": False,
        "notice": None,
    }
    return context


def option_key(option: payments.PaymentOption) -> str:
    return f"{option.chain_id}:{option.currency}"


def _option_view(option: payments.PaymentOption, session: CheckoutSession, selected: bool) -> dict[str, Any]:
    return {
        "key": option_key(option),
        "href": f"/pay/{session.id}/payment?" + urlencode({"option": option_key(option)}),
        "chain_id": option.chain_id,
        "chain_id_hex": hex(option.chain_id),
        "chain_name": option.chain_name,
        "symbol": option.symbol,
        "token_address": option.token_address,
        "deposit_address": option.deposit_address,
        "amount_raw": str(option.amount_due_raw),
        "amount_text": format_amount(option.amount_due_raw, option.decimals),
        "decimals": option.decimals,
        "eip681_uri": option.eip681_uri,
        "rpc_url": option.rpc_url or "",
        "explorer_tx_url": option.explorer_tx_url,
        "preferred": option.preferred,
        "selected": selected,
    }


@lru_cache(maxsize=256)
def _qr_svg(uri: str) -> str:
    return str(segno.make(uri, error="m").svg_inline(scale=4, border=2, omitsize=True, dark="#111", light="#fff"))


def progress_view(progress: payments.PaymentProgress, currency: str) -> dict[str, Any]:
    """The live payment status as words: detected → confirming (n of N) → paid, and what is still due."""
    unit = currency.upper()
    pending = [t for t in progress.transfers if t.state == "pending"]
    detail = ""
    if progress.status == Status.COMPLETE:
        stage, headline = "paid", "Paid. Thank you!"
    elif progress.status == Status.EXPIRED:
        stage, headline = "expired", "This checkout has expired."
    elif pending and max(t.confirmations for t in pending) > 0:
        best = max(pending, key=lambda t: t.confirmations)
        stage = "confirming"
        headline = f"Confirming your payment: {best.confirmations} of {best.required_confirmations} confirmations"
    elif pending or progress.amount_pending > 0:
        stage, headline = "detected", "Payment detected. Waiting for confirmations…"
    elif progress.amount_received > 0:
        stage, headline = "partial", "Partial payment received"
    else:
        stage, headline = "waiting", "Waiting for your payment…"
    if progress.amount_received > 0 and progress.amount_due > 0 and stage != "expired":
        detail = (
            f"Received {format_amount(progress.amount_received)} {unit}. "
            f"Still due: {format_amount(progress.amount_due)} {unit}."
        )
    return {
        "stage": stage,
        "headline": headline,
        "detail": detail,
        "amount_due": str(progress.amount_due),
        "transfers": [
            {"hash": t.tx_hash, "confirmations": t.confirmations, "required": t.required_confirmations}
            | {"state": t.state}
            for t in progress.transfers
        ],
    }


def format_amount(amount: int, decimals: int = 8) -> str:
    """Exact display of an integer amount with `decimals` implied decimals: grouped, at least two decimals."""
    sign = "−" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**decimals)
    digits = str(fraction).rjust(decimals, "0").rstrip("0").ljust(min(2, decimals), "0") if decimals else ""
    return f"{sign}{whole:,}" + (f".{digits}" if digits else "")

"""What the buyer may change on an open checkout session from the hosted page; nothing here knows about HTTP.

The form a session asks for is described once, as `FieldRule`s built from the session (collection flags, custom
fields, pay-what-you-want prices). The server validates with `validate_field`; the page hands the same rules,
patterns and messages to the browser as data attributes, so the browser's checks and messages are the server's.

Every change starts with `ensure_editable`: the session must be open, not past its `expiresAt`, and no payment
may have been seen for it (once money is on its way, the amount, the code and the details it was sent for are
frozen). Changes flush; the page's request commits.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from kassa.api.runtime import Runtime
from kassa.auth.keys import Principal
from kassa.catalog.models import Price, Product
from kassa.checkout.models import CheckoutSession
from kassa.checkout.pricing import apply_totals, discount_snapshot
from kassa.checkout.service.events import emit_session_event
from kassa.checkout.state import Status
from kassa.customers.models import Customer
from kassa.customers.schemas import Email
from kassa.discounts.redemption import AppliedDiscount, validate_promotion_code
from kassa.errors import BadRequest, Conflict, TooManyRequests
from kassa.events.models import Event
from kassa.money import API_DECIMALS, ONE_UNIT
from kassa.payments import options as payments

Kind = Literal["text", "email", "phone", "numeric", "dropdown", "amount"]

# Patterns are plain ASCII regular expressions that Python's `re` and JavaScript's RegExp read alike.
EMAIL_PATTERN = r"^[^\s@]+@[^\s@]+\.[^\s@]+$"
PHONE_PATTERN = r"^\+?[0-9][0-9 ().\-]{2,38}$"  # as the customers API (kassa.customers.schemas)
DIGITS_PATTERN = r"^[0-9]+$"
AMOUNT_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,8})?$"  # ≤ 10 integer digits keeps amount × 10^8 inside BIGINT
TEXT_MAX_LENGTH = 255
CODE_MAX_LENGTH = 40
ADDRESS_PARTS: tuple[tuple[str, str, bool, int, str], ...] = (
    # (part, label, required, max length, autocomplete token)
    ("line1", "Address line 1", True, 200, "address-line1"),
    ("line2", "Address line 2", False, 200, "address-line2"),
    ("city", "City", True, 200, "address-level2"),
    ("state", "State or region", False, 200, "address-level1"),
    ("postal_code", "Postal code", True, 40, "postal-code"),
    ("country", "Country", True, 60, "country-name"),
)
_CAMEL = {"postal_code": "postalCode"}
_EMAIL = TypeAdapter(Email)


# ---------------------------------------------------------------------------------------------------------------
# The form: rules and validation


@dataclass(frozen=True)
class FieldRule:
    name: str  # the form field's name
    label: str
    kind: Kind
    required: bool
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    options: tuple[tuple[str, str], ...] = ()  # dropdown (value, label)
    min_amount: int | None = None  # amount fields, 8-decimal
    max_amount: int | None = None
    autocomplete: str = "off"
    messages: tuple[tuple[str, str], ...] = ()  # (kind of error, message): hashable, so renderings can be cached

    def message(self, kind: str) -> str:
        return next(text for key, text in self.messages if key == kind)


@dataclass(frozen=True)
class AmountLine:
    """A pay-what-you-want line item and the bounds of its price."""

    position: int
    rule: FieldRule
    suggestions: tuple[int, ...]
    preset: int | None


@dataclass(frozen=True)
class BuyerForm:
    contact: tuple[FieldRule, ...]
    billing: tuple[FieldRule, ...]
    shipping: tuple[FieldRule, ...]
    custom: tuple[FieldRule, ...]
    amounts: tuple[AmountLine, ...]

    @property
    def details(self) -> tuple[FieldRule, ...]:
        return self.contact + self.billing + self.shipping + self.custom

    @property
    def all(self) -> tuple[FieldRule, ...]:
        return self.details + tuple(a.rule for a in self.amounts)


def _messages(label: str, kind: Kind, unit: str = "characters") -> dict[str, str]:
    out = {"required": f"{label} is required."}
    if kind == "email":
        out["pattern"] = "Enter a valid email address, like name@example.com."
    elif kind == "phone":
        out["pattern"] = "Enter a valid phone number: digits, spaces, ( ) . - and an optional leading +."
    elif kind == "numeric":
        out["pattern"] = f"{label} must contain digits only."
    elif kind == "amount":
        out["pattern"] = "Enter an amount in numbers, like 12.50."
    elif kind == "dropdown":
        out["choice"] = f"Choose one of the options for {label}."
    return out


def _rule(name: str, label: str, kind: Kind, required: bool, **extra: Any) -> FieldRule:
    messages = _messages(label, kind)
    unit = "digits" if kind == "numeric" else "characters"
    if extra.get("min_length"):
        messages["short"] = f"{label} must be at least {extra['min_length']} {unit} long."
    if extra.get("max_length"):
        messages["long"] = f"{label} must be at most {extra['max_length']} {unit} long."
    messages.update(extra.pop("messages", {}))
    return FieldRule(name=name, label=label, kind=kind, required=required, messages=tuple(messages.items()), **extra)


def _address_rules(prefix: str) -> list[FieldRule]:
    return [
        _rule(f"{prefix}_{part}", label, "text", required, max_length=size, autocomplete=f"{prefix} {token}")
        for part, label, required, size, token in ADDRESS_PARTS
    ]


def load_catalog(db: Session, session: CheckoutSession) -> tuple[dict[uuid.UUID, Price], dict[uuid.UUID, Product]]:
    """The prices and products of the session's line items, in one query."""
    ids = {li.price_id for li in session.line_items}
    rows = db.execute(select(Price, Product).join(Product, Product.id == Price.product_id).where(Price.id.in_(ids)))
    prices: dict[uuid.UUID, Price] = {}
    products: dict[uuid.UUID, Product] = {}
    for price, product in rows:
        prices[price.id] = price
        products[product.id] = product
    return prices, products


def buyer_form(db: Session, session: CheckoutSession, prices: Mapping[uuid.UUID, Price] | None = None) -> BuyerForm:
    """The fields this session asks the buyer for, each with its rules."""
    contact = []
    if session.name_collection:
        contact.append(_rule("name", "Full name", "text", True, max_length=200, autocomplete="name"))
    if session.email_collection:
        contact.append(
            _rule("email", "Email", "email", True, max_length=320, pattern=EMAIL_PATTERN, autocomplete="email")
        )
    if session.phone_number_collection:
        contact.append(
            _rule("phone", "Phone number", "phone", True, max_length=40, pattern=PHONE_PATTERN, autocomplete="tel")
        )
    billing = _address_rules("billing") if session.billing_address_collection else []
    shipping = []
    if session.shipping_address_collection:
        shipping = [
            _rule("shipping_name", "Recipient name", "text", True, max_length=200, autocomplete="shipping name"),
            *_address_rules("shipping"),
        ]
    return BuyerForm(
        contact=tuple(contact),
        billing=tuple(billing),
        shipping=tuple(shipping),
        custom=tuple(_custom_rule(f) for f in session.custom_fields),
        amounts=_amount_lines(session, prices if prices is not None else load_catalog(db, session)[0]),
    )


def _custom_rule(definition: Mapping[str, Any]) -> FieldRule:
    kind: Kind = definition["type"]
    label = definition["label"]["custom"]
    name = f"custom_{definition['key']}"
    required = not definition.get("optional", False)
    if kind == "dropdown":
        options = tuple((o["value"], o["label"]) for o in definition["dropdown"]["options"])
        return _rule(name, label, "dropdown", required, options=options)
    lengths = definition.get(kind) or {}
    return _rule(
        name,
        label,
        kind,
        required,
        min_length=lengths.get("minimumLength"),
        max_length=lengths.get("maximumLength") or TEXT_MAX_LENGTH,
        pattern=DIGITS_PATTERN if kind == "numeric" else None,
    )


def _amount_lines(session: CheckoutSession, prices: Mapping[uuid.UUID, Price]) -> tuple[AmountLine, ...]:
    lines = []
    for li in session.line_items:
        price = prices[li.price_id]
        if not price.is_custom:
            continue
        currency = session.currency.upper()
        low = max(price.custom_unit_min or 0, 1)
        messages = {
            "min": f"The amount must be at least {format_plain(low)} {currency}."
            if price.custom_unit_min
            else f"The amount must be more than 0 {currency}.",
        }
        if price.custom_unit_max is not None:
            messages["max"] = f"The amount must be at most {format_plain(price.custom_unit_max)} {currency}."
        rule = _rule(
            f"amount_{li.position}",
            "Amount",
            "amount",
            True,
            pattern=AMOUNT_PATTERN,
            min_amount=low,
            max_amount=price.custom_unit_max,
            autocomplete="off",
            messages=messages,
        )
        suggestions = tuple(price.custom_suggestions or ())
        lines.append(AmountLine(li.position, rule, suggestions, price.custom_preset))
    return tuple(lines)


def validate_field(rule: FieldRule, raw: str) -> tuple[str, str | None]:
    """The cleaned value and the error message, if any. `static/checkout.js` applies the same checks in the
    same order: required, pattern, minimum length, maximum length, choice, amount bounds."""
    value = raw.strip()
    if not value:
        return "", rule.message("required") if rule.required else None
    if rule.pattern is not None and not re.fullmatch(rule.pattern, value):
        return value, rule.message("pattern")
    if rule.min_length is not None and len(value) < rule.min_length:
        return value, rule.message("short")
    if rule.max_length is not None and len(value) > rule.max_length:
        return value, rule.message("long")
    if rule.kind == "dropdown" and value not in {v for v, _ in rule.options}:
        return value, rule.message("choice")
    if rule.kind == "amount":
        amount = parse_amount(value)
        if rule.min_amount is not None and amount < rule.min_amount:
            return value, rule.message("min")
        if rule.max_amount is not None and amount > rule.max_amount:
            return value, rule.message("max")
    if rule.kind == "email":
        # Stricter than the pattern, server side only: completion creates the customer with this address.
        try:
            _EMAIL.validate_python(value)
        except ValidationError:
            return value, rule.message("pattern")
    return value, None


def validate_values(rules: tuple[FieldRule, ...], values: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    clean: dict[str, str] = {}
    errors: dict[str, str] = {}
    for rule in rules:
        value, error = validate_field(rule, values.get(rule.name, ""))
        clean[rule.name] = value
        if error is not None:
            errors[rule.name] = error
    return clean, errors


def parse_amount(text: str) -> int:
    """Decimal text to 8-decimal units, exactly, without floats: "12.5" → 1_250_000_000."""
    if not re.fullmatch(AMOUNT_PATTERN, text):
        raise ValueError(f"not an amount: {text!r}")
    whole, _, fraction = text.partition(".")
    return int(whole) * int(ONE_UNIT) + int(fraction.ljust(API_DECIMALS, "0"))


def format_plain(amount: int, decimals: int = API_DECIMALS) -> str:
    """8-decimal units as input text: at least two decimals, no grouping ("12.50", "0.00000001")."""
    whole, fraction = divmod(amount, 10**decimals)
    digits = str(fraction).rjust(decimals, "0").rstrip("0") if decimals else ""
    digits = digits.ljust(min(2, decimals), "0")
    return f"{whole}.{digits}" if digits else str(whole)


# ---------------------------------------------------------------------------------------------------------------
# What the page shows in the fields: stored answers first, then the merchant's prefill, then the customer


def stored_values(session: CheckoutSession) -> dict[str, str]:
    out: dict[str, str] = {}
    details = session.customer_details or {}
    for key in ("name", "email", "phone"):
        if details.get(key):
            out[key] = str(details[key])
    for prefix, stored in (("billing", session.billing_details), ("shipping", session.shipping_details)):
        stored = stored or {}
        if prefix == "shipping" and stored.get("name"):
            out["shipping_name"] = str(stored["name"])
        for part, *_ in ADDRESS_PARTS:
            value = (stored.get("address") or {}).get(_CAMEL.get(part, part))
            if value:
                out[f"{prefix}_{part}"] = str(value)
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
        for key in ("name", "email", "phone"):
            if source.get(key):
                out[key] = str(source[key])
        for part, *_ in ADDRESS_PARTS:
            value = (source.get("address") or {}).get(_CAMEL.get(part, part))
            if value:
                out[f"billing_{part}"] = str(value)
        shipping = source.get("shipping") or {}
        if shipping.get("name"):
            out["shipping_name"] = str(shipping["name"])
        for part, *_ in ADDRESS_PARTS:
            value = (shipping.get("address") or {}).get(_CAMEL.get(part, part))
            if value:
                out[f"shipping_{part}"] = str(value)
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


# ---------------------------------------------------------------------------------------------------------------
# Changes


class CheckoutClosed(BadRequest):
    code = "checkout_closed"


class DetailsFrozen(Conflict):
    code = "details_frozen"


class TooManyCodeAttempts(TooManyRequests):
    def __init__(self, retry_after: int) -> None:
        minutes = max(1, -(-retry_after // 60))
        super().__init__(f"Too many promotion code attempts. Try again in {minutes} minute{'s' * (minutes > 1)}.")
        self.retry_after = retry_after


def payment_seen(db: Session, runtime: Runtime, session: CheckoutSession) -> bool:
    """Money confirmed or on its way for this session (from here on, what it pays for may not change)."""
    progress = payments.payment_progress(db, runtime, session)
    return (
        progress.amount_received > 0
        or progress.amount_pending > 0
        or any(t.state in ("pending", "confirmed") for t in progress.transfers)
    )


def is_past_expiry(runtime: Runtime, session: CheckoutSession) -> bool:
    return session.status == Status.OPEN and session.expires_at <= runtime.settings.clock.now()


def ensure_editable(db: Session, runtime: Runtime, session: CheckoutSession) -> None:
    if session.status != Status.OPEN or is_past_expiry(runtime, session):
        raise CheckoutClosed("This checkout is no longer open.")
    if payment_seen(db, runtime, session):
        raise DetailsFrozen("A payment for this checkout has been seen, so its details can no longer change.")


def set_amounts(
    db: Session, runtime: Runtime, session: CheckoutSession, form: BuyerForm, values: Mapping[str, str]
) -> dict[str, str]:
    """Store the valid pay-what-you-want amounts among `values` and reprice; returns the errors of the others."""
    rules = tuple(line.rule for line in form.amounts)
    if not rules:
        return {}
    ensure_editable(db, runtime, session)
    clean, errors = validate_values(rules, values)
    lines = {li.position: li for li in session.line_items}
    changed = False
    for line in form.amounts:
        if line.rule.name not in errors:
            amount = parse_amount(clean[line.rule.name])
            changed = changed or lines[line.position].unit_amount != amount
            lines[line.position].unit_amount = amount
    if changed:
        _reprice(db, runtime, session)
    return errors


def submit_details(
    db: Session, runtime: Runtime, session: CheckoutSession, form: BuyerForm, values: Mapping[str, str]
) -> dict[str, str]:
    """Validate and store everything the buyer typed; returns field errors (and stores nothing) if any."""
    ensure_editable(db, runtime, session)
    clean, errors = validate_values(form.all, values)
    if errors:
        return errors
    set_amounts(db, runtime, session, form, clean)
    contact = {k: clean[k] for k in ("name", "email", "phone") if clean.get(k)}
    billing = _address(clean, "billing") if form.billing else None
    session.customer_details = (contact | ({"address": billing} if billing else {})) or None
    session.billing_details = (contact | {"address": billing}) if billing else None
    if form.shipping:
        session.shipping_details = {"name": clean["shipping_name"], "address": _address(clean, "shipping")}
    session.custom_field_values = {r.name.removeprefix("custom_"): clean[r.name] for r in form.custom} or None
    session.updated_at = runtime.settings.clock.now()
    db.flush()
    return {}


def _address(clean: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {
        _CAMEL.get(part, part): clean[f"{prefix}_{part}"] for part, *_ in ADDRESS_PARTS if clean[f"{prefix}_{part}"]
    }


def apply_code(
    db: Session, runtime: Runtime, session: CheckoutSession, code: str, limiter: CodeAttemptLimiter
) -> AppliedDiscount:
    """Apply the promotion code the buyer typed, or raise PromotionCodeRejected saying why."""
    ensure_editable(db, runtime, session)
    if not session.allow_promotion_codes:
        raise BadRequest("promotionCode: this checkout does not take promotion codes")
    code = code.strip()
    if not code:
        raise BadRequest("promotionCode: enter a promotion code")
    limiter.hit(str(session.id))
    subtotal = sum((li.unit_amount or 0) * li.quantity for li in session.line_items)
    applied = validate_promotion_code(
        db, runtime.settings.clock, _owner(session), code[:CODE_MAX_LENGTH], amount=subtotal, currency=session.currency
    )
    session.coupon_id = applied.coupon_id
    session.promotion_code_id = applied.promotion_code_id
    session.discount = discount_snapshot(applied)
    _reprice(db, runtime, session)
    return applied


def remove_code(db: Session, runtime: Runtime, session: CheckoutSession) -> None:
    ensure_editable(db, runtime, session)
    if not session.allow_promotion_codes:
        raise BadRequest("promotionCode: this checkout's discount cannot be removed")
    session.coupon_id = None
    session.promotion_code_id = None
    session.discount = None
    _reprice(db, runtime, session)


def cancel(db: Session, runtime: Runtime, session: CheckoutSession) -> str | None:
    """The buyer leaves: record `checkout_session.canceled` (once per session); returns where to send them.

    The session stays open until it expires, as on Copperx: the buyer may come back to it.
    """
    if session.cancel_url is None:
        return None
    if session.status == Status.OPEN and not payment_seen(db, runtime, session):
        seen = db.scalar(
            select(Event.id).where(Event.object_id == session.id, Event.type == "checkout_session.canceled").limit(1)
        )
        if seen is None:
            emit_session_event(
                db, runtime.settings.clock, runtime.settings.public_url, session, "checkout_session.canceled"
            )
    return session.cancel_url


def _reprice(db: Session, runtime: Runtime, session: CheckoutSession) -> None:
    apply_totals(db, _owner(session), session)
    session.updated_at = runtime.settings.clock.now()
    db.flush()


def _owner(session: CheckoutSession) -> Principal:
    return Principal.of(session.organization_id, session.mode)


def find_session(db: Session, session_id: uuid.UUID) -> CheckoutSession | None:
    """The session a page URL names: the id is the buyer's capability, so no organization scope applies."""
    # One query with its line items (joined, not the relationship's default second SELECT): pages are hot.
    return db.get(CheckoutSession, session_id, options=[joinedload(CheckoutSession.line_items)])


# ---------------------------------------------------------------------------------------------------------------
# Promotion code attempts


class CodeAttemptLimiter:
    """At most `limit` promotion code attempts per session in any `window` seconds, in this process.

    In memory on purpose: the codes a buyer can guess through one session are what it bounds, and a buyer cannot
    make new sessions (only the merchant's API key can). With N API processes behind a load balancer the bound is
    N × limit; keeping it exact across processes would need a table, which this does not earn.
    Memory is bounded: the least recently used sessions are forgotten past `max_sessions`.
    """

    def __init__(
        self,
        limit: int = 10,
        window: float = 600.0,
        *,
        max_sessions: int = 10_000,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_sessions = max_sessions
        self._now: Callable[[], float] = now
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Count one attempt, or raise TooManyCodeAttempts (without counting it)."""
        with self._lock:
            now = self._now()
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            self._hits[key] = hits
            if len(self._hits) > self.max_sessions:
                self._hits.popitem(last=False)
            if len(hits) >= self.limit:
                raise TooManyCodeAttempts(int(hits[0] + self.window - now) + 1)
            hits.append(now)

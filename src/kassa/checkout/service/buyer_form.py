"""The form a checkout session asks the buyer for, and its validation; nothing here knows about HTTP.

The form is described once, as `FieldRule`s built from the session (collection flags, custom fields,
pay-what-you-want prices). The server validates with `validate_field`; the page hands the same rules, patterns and
messages to the browser as data attributes, so the browser's checks and messages are the server's.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kassa.catalog.models import Price, Product
from kassa.checkout.models import CheckoutSession
from kassa.customers.schemas import Email
from kassa.money import API_DECIMALS, MAX_UNIT_AMOUNT, ONE_UNIT
from kassa.text import printable, text_problem

Kind = Literal["text", "email", "phone", "numeric", "dropdown", "amount"]

# Patterns are plain ASCII regular expressions that Python's `re` and JavaScript's RegExp read alike.
EMAIL_PATTERN = r"^[^\s@]+@[^\s@]+\.[^\s@]+$"
PHONE_PATTERN = r"^\+?[0-9][0-9 ().\-]{2,38}$"  # as the customers API (kassa.customers.schemas)
DIGITS_PATTERN = r"^[0-9]+$"
AMOUNT_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,8})?$"  # ≤ 10 integer digits keeps amount × 10^8 inside BIGINT
TEXT_MAX_LENGTH = 255
ADDRESS_PARTS: tuple[tuple[str, str, bool, int, str], ...] = (
    # (part, label, required, max length, autocomplete token)
    ("line1", "Address line 1", True, 200, "address-line1"),
    ("line2", "Address line 2", False, 200, "address-line2"),
    ("city", "City", True, 200, "address-level2"),
    ("state", "State or region", False, 200, "address-level1"),
    ("postal_code", "Postal code", True, 40, "postal-code"),
    ("country", "Country", True, 60, "country-name"),
)
_EMAIL = TypeAdapter(Email)


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


# ---------------------------------------------------------------------------------------------------------------
# Building the rules


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
        # Without a maximum of its own, the most any amount may be (kassa.money): the session was priced for it.
        high = price.custom_unit_max if price.custom_unit_max is not None else MAX_UNIT_AMOUNT
        messages["max"] = f"The amount must be at most {format_plain(high)} {currency}."
        rule = _rule(
            f"amount_{li.position}",
            "Amount",
            "amount",
            True,
            pattern=AMOUNT_PATTERN,
            min_amount=low,
            max_amount=high,
            autocomplete="off",
            messages=messages,
        )
        suggestions = tuple(price.custom_suggestions or ())
        lines.append(AmountLine(li.position, rule, suggestions, price.custom_preset))
    return tuple(lines)


# ---------------------------------------------------------------------------------------------------------------
# Validation, and amounts as text


def validate_field(rule: FieldRule, raw: str) -> tuple[str, str | None]:
    """The cleaned value and the error message, if any. `static/checkout.js` applies the same checks in the
    same order: required, pattern, minimum length, maximum length, choice, amount bounds."""
    value = raw.strip()
    if not value:
        return "", rule.message("required") if rule.required else None
    if text_problem(value):
        # Server side only: a browser cannot type these, a hand-made request can (and a NUL breaks PostgreSQL).
        return printable(value, TEXT_MAX_LENGTH), f"{rule.label} must not contain control characters."
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

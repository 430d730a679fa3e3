"""`kassa.money`: exact rounding, and the money limits checked where each amount enters (no database needed).

The API and hosted-page side of the limits, on both databases, is in tests/hostile/test_money_limits.py.
"""

from __future__ import annotations

import uuid
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from kassa.api.types import Amount
from kassa.catalog.models import Price
from kassa.catalog.schemas import PriceCreate
from kassa.checkout.models import CheckoutLineItem, CheckoutSession
from kassa.checkout.schemas import LineItemIn
from kassa.checkout.service.buyer_form import buyer_form, format_plain, validate_field
from kassa.discounts.schemas import CouponCreate
from kassa.money import (
    MAX_LINE_TOTAL,
    MAX_QUANTITY,
    MAX_SESSION_TOTAL,
    MAX_UNIT_AMOUNT,
    ONE_UNIT,
    STORAGE_MAX,
    div_half_up,
)
from kassa.payments.recording import to_api_amount, to_raw_amount


def test_the_limits_nest_and_fit_the_columns_with_room_to_spare() -> None:
    assert STORAGE_MAX == 2**63 - 1  # BIGINT on PostgreSQL, INTEGER on SQLite
    assert MAX_UNIT_AMOUNT == 10_000_000 * ONE_UNIT
    assert MAX_UNIT_AMOUNT <= MAX_LINE_TOTAL <= MAX_SESSION_TOTAL == 1_000_000_000 * ONE_UNIT
    assert 92 * MAX_SESSION_TOTAL <= STORAGE_MAX < 93 * MAX_SESSION_TOTAL  # the headroom money.py states


# ---------------------------------------------------------------------------------------------------------------
# div_half_up


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (0, 3, 0),
        (1, 3, 0),
        (2, 4, 1),
        (3, 2, 2),
        (5, 2, 3),
        (-5, 2, -3),
        (-1, 3, 0),
        (7, 7, 1),
        (10**30 + 1, 2, 10**30 // 2 + 1),
    ],
)
def test_halves_round_away_from_zero(numerator: int, denominator: int, expected: int) -> None:
    assert div_half_up(numerator, denominator) == expected


@pytest.mark.parametrize("denominator", [0, -1])
def test_a_denominator_below_one_is_refused(denominator: int) -> None:
    with pytest.raises(ValueError, match=r"^denominator must be positive$"):
        div_half_up(1, denominator)


@given(numerator=st.integers(-(10**30), 10**30), denominator=st.integers(1, 10**12) | st.integers(1, 4))
@example(numerator=1, denominator=2)
@example(numerator=-1, denominator=2)
@example(numerator=MAX_SESSION_TOTAL * 1_000_000, denominator=1_000_000)
def test_the_result_is_the_nearest_integer_halves_away_from_zero(numerator: int, denominator: int) -> None:
    exact = Fraction(numerator, denominator)
    result = div_half_up(numerator, denominator)
    assert abs(result - exact) <= Fraction(1, 2)
    if abs(result - exact) == Fraction(1, 2):
        assert abs(result) > abs(exact)


# ---------------------------------------------------------------------------------------------------------------
# The limits where amounts enter: exactly at each limit is accepted, one past it refused, naming the field.


def accepted(model: Any, body: dict[str, Any]) -> list[str]:
    """The fields a validation error names, or [] if the body is accepted."""
    try:
        model.model_validate(body)
    except ValidationError as exc:
        return [".".join(str(p) for p in error["loc"]) for error in exc.errors()]
    return []


amounts_around_the_limit = st.integers(-2, MAX_UNIT_AMOUNT + 10**6) | st.integers(
    MAX_UNIT_AMOUNT - 3, MAX_UNIT_AMOUNT + 3
)


@given(value=amounts_around_the_limit, as_text=st.booleans())
@example(value=MAX_UNIT_AMOUNT, as_text=False)
@example(value=MAX_UNIT_AMOUNT + 1, as_text=False)
@example(value=MAX_UNIT_AMOUNT + 1, as_text=True)
@example(value=0, as_text=False)
@example(value=-1, as_text=True)
def test_an_amount_is_taken_from_zero_to_the_largest_unit_amount(value: int, as_text: bool) -> None:
    adapter = TypeAdapter(Amount)
    if 0 <= value <= MAX_UNIT_AMOUNT:
        assert adapter.validate_python(str(value) if as_text else value) == value
    else:
        with pytest.raises(ValidationError, match=r"must be at most|must not be negative"):
            adapter.validate_python(str(value) if as_text else value)


PRICE = {"currency": "usdc", "productData": {"name": "Widget"}}


@given(value=amounts_around_the_limit)
@example(value=MAX_UNIT_AMOUNT)
@example(value=MAX_UNIT_AMOUNT + 1)
@example(value=1)
@example(value=0)
def test_price_amounts_and_amount_off_stop_at_the_largest_unit_amount(value: int) -> None:
    fits = 1 <= value <= MAX_UNIT_AMOUNT
    assert accepted(PriceCreate, PRICE | {"unitAmount": value}) == ([] if fits else ["unitAmount"])
    assert accepted(PriceCreate, PRICE | {"customUnitMax": value}) == ([] if fits else ["customUnitMax"])
    assert accepted(PriceCreate, PRICE | {"customUnitMin": value}) == (
        [] if 0 <= value <= MAX_UNIT_AMOUNT else ["customUnitMin"]
    )
    inline = {"priceData": PRICE | {"unitAmount": value}}
    assert accepted(LineItemIn, inline) == ([] if fits else ["priceData.unitAmount"])
    coupon = {"name": "Off", "amountOff": value, "currency": "usdc", "promotionCodeData": {"data": [{"code": "OFF"}]}}
    assert accepted(CouponCreate, coupon) == ([] if fits else ["amountOff"])


@given(quantity=st.integers(-1, MAX_QUANTITY + 10) | st.integers(MAX_QUANTITY - 2, MAX_QUANTITY + 2))
@example(quantity=MAX_QUANTITY)
@example(quantity=MAX_QUANTITY + 1)
@example(quantity=1)
@example(quantity=0)
def test_a_quantity_is_taken_from_one_to_the_largest_quantity(quantity: int) -> None:
    body = {"priceId": str(uuid.uuid4()), "quantity": quantity}
    assert accepted(LineItemIn, body) == ([] if 1 <= quantity <= MAX_QUANTITY else ["quantity"])


def pay_what_you_want(custom_unit_max: int | None) -> tuple[CheckoutSession, dict[uuid.UUID, Price]]:
    price = Price(id=uuid.uuid4(), unit_amount=None, custom_unit_min=None, custom_unit_max=custom_unit_max)
    line = CheckoutLineItem(position=0, price_id=price.id, quantity=1, unit_amount=None)
    session = CheckoutSession(currency="usdc", custom_fields=[], line_items=[line])
    return session, {price.id: price}


@given(amount=st.integers(1, MAX_UNIT_AMOUNT + ONE_UNIT) | st.integers(MAX_UNIT_AMOUNT - 2, MAX_UNIT_AMOUNT + 2))
@example(amount=MAX_UNIT_AMOUNT)
@example(amount=MAX_UNIT_AMOUNT + 1)
@example(amount=1)
def test_a_buyer_types_at_most_the_largest_unit_amount_without_a_maximum_of_the_price(amount: int) -> None:
    session, prices = pay_what_you_want(None)
    [line] = buyer_form(None, session, prices).amounts  # type: ignore[arg-type]  # the prices are given: no query
    _, error = validate_field(line.rule, format_plain(amount))
    assert error == (None if amount <= MAX_UNIT_AMOUNT else "The amount must be at most 10000000.00 USDC.")


@given(amount=st.integers(1, 600 * ONE_UNIT))
@example(amount=500 * ONE_UNIT)
@example(amount=500 * ONE_UNIT + 1)
def test_a_buyer_types_at_most_the_maximum_of_the_price(amount: int) -> None:
    session, prices = pay_what_you_want(500 * ONE_UNIT)
    [line] = buyer_form(None, session, prices).amounts  # type: ignore[arg-type]  # the prices are given: no query
    _, error = validate_field(line.rule, format_plain(amount))
    assert error == (None if amount <= 500 * ONE_UNIT else "The amount must be at most 500.00 USDC.")


# ---------------------------------------------------------------------------------------------------------------
# Raw token units ↔ 8-decimal API units (kassa.payments.recording)

decimals = st.integers(0, 30) | st.sampled_from([0, 6, 7, 8, 9, 18])
raw_amounts = st.integers(0, 2**256 - 1) | st.integers(0, 10**12)


@given(raw=raw_amounts, token_decimals=decimals)
@example(raw=1, token_decimals=18)  # below one API unit: nothing
@example(raw=10**10 - 1, token_decimals=18)
@example(raw=10**10, token_decimals=18)
@example(raw=1, token_decimals=6)
@example(raw=1, token_decimals=0)
@example(raw=7, token_decimals=8)
@example(raw=10**8 + 1, token_decimals=9)
@example(raw=2**256 - 1, token_decimals=18)
def test_raw_amounts_become_api_amounts_rounded_down(raw: int, token_decimals: int) -> None:
    exact = Fraction(raw * ONE_UNIT, 10**token_decimals)
    assert to_api_amount(raw, token_decimals) == exact.numerator // exact.denominator


@given(amount=st.integers(0, MAX_SESSION_TOTAL) | st.integers(0, 1_000), token_decimals=decimals)
@example(amount=1, token_decimals=6)  # 0.00000001 asks for one raw unit of a 6-decimal token, never 0
@example(amount=99, token_decimals=6)
@example(amount=100, token_decimals=6)
@example(amount=101, token_decimals=6)
@example(amount=1, token_decimals=0)
@example(amount=7, token_decimals=8)
@example(amount=1, token_decimals=18)
@example(amount=MAX_SESSION_TOTAL, token_decimals=18)
def test_api_amounts_become_raw_amounts_rounded_up_and_back_to_at_least_the_amount(
    amount: int, token_decimals: int
) -> None:
    exact = Fraction(amount * 10**token_decimals, ONE_UNIT)
    raw = to_raw_amount(amount, token_decimals)
    assert raw == -(-exact.numerator // exact.denominator)
    back = to_api_amount(raw, token_decimals)
    assert amount <= back < amount + max(1, 10 ** (8 - token_decimals))  # the buyer pays less than one raw unit more

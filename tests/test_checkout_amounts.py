"""The totals arithmetic on its own: worked examples and properties that must hold for any input."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kassa.checkout.amounts import (
    PERCENT_SCALE,
    DiscountInput,
    LineInput,
    TaxRateInput,
    compute_totals,
    spread,
)

USDC = 100_000_000  # 1 unit in 8 decimals


def test_plain_lines() -> None:
    totals = compute_totals([LineInput(25 * USDC, 2), LineInput(5 * USDC, 1)])
    assert (totals.subtotal, totals.discount, totals.tax, totals.total) == (55 * USDC, 0, 0, 55 * USDC)


def test_percent_off_rounds_half_up_and_spreads_with_remainder_to_last() -> None:
    # 12.5 % of 3 units of 1 (300000001 ... chosen so the division is not exact)
    lines = [LineInput(1, 1), LineInput(1, 1), LineInput(1, 1)]
    totals = compute_totals(lines, DiscountInput(percent_off_e4=500_000))  # 50 % of 3 = 1.5 → 2
    assert totals.discount == 2
    assert [line.discount for line in totals.lines] == [0, 0, 2]
    assert totals.total == 1


def test_amount_off_is_capped_at_the_subtotal() -> None:
    totals = compute_totals([LineInput(5, 1)], DiscountInput(amount_off=10))
    assert (totals.discount, totals.total) == (5, 0)


def test_exclusive_tax_after_discount() -> None:
    vat = TaxRateInput("vat", 190_000, inclusive=False)  # 19 %
    totals = compute_totals([LineInput(100 * USDC, 1, (vat,))], DiscountInput(percent_off_e4=100_000))  # 10 % off
    line = totals.lines[0]
    assert line.discount == 10 * USDC
    assert line.tax == 17_10_000_000  # 19 % of 90
    assert totals.total == 90 * USDC + 17_10_000_000


def test_inclusive_tax_is_contained() -> None:
    vat = TaxRateInput("vat", 200_000, inclusive=True)  # 20 % included
    totals = compute_totals([LineInput(120 * USDC, 1, (vat,))])
    assert totals.tax == 20 * USDC
    assert totals.total == 120 * USDC


def test_inclusive_and_exclusive_on_one_line() -> None:
    inc = TaxRateInput("inc", 100_000, inclusive=True)  # 10 % included
    exc = TaxRateInput("exc", 50_000, inclusive=False)  # 5 % added on the net
    totals = compute_totals([LineInput(110, 1, (inc, exc))])
    assert [t.amount for t in totals.lines[0].taxes] == [10, 5]
    assert totals.total == 115


def test_spread() -> None:
    assert spread(10, [1, 1, 1]) == [3, 3, 4]
    assert spread(10, [0, 5, 0]) == [0, 10, 0]
    assert spread(0, [1, 2]) == [0, 0]
    assert spread(7, [0, 0]) == [0, 0]


rates = st.lists(
    st.builds(TaxRateInput, st.text(min_size=1, max_size=3), st.integers(0, PERCENT_SCALE), st.booleans()),
    max_size=3,
)
lines = st.lists(st.builds(LineInput, st.integers(0, 10**15), st.integers(1, 10_000), rates), min_size=1, max_size=20)
discounts = (
    st.none()
    | st.builds(DiscountInput, percent_off_e4=st.integers(0, PERCENT_SCALE))
    | st.builds(DiscountInput, amount_off=st.integers(0, 10**17))
)


@given(lines=lines, discount=discounts)
def test_totals_always_equal_the_sum_of_their_parts(lines: list[LineInput], discount: DiscountInput | None) -> None:
    totals = compute_totals(lines, discount)
    assert totals.subtotal == sum(line.subtotal for line in totals.lines)
    assert totals.discount == sum(line.discount for line in totals.lines)
    assert totals.tax == sum(line.tax for line in totals.lines)
    assert totals.total == sum(line.total for line in totals.lines)
    exclusive = sum(line.exclusive_tax for line in totals.lines)
    assert totals.total == totals.subtotal - totals.discount + exclusive
    assert 0 <= totals.discount <= totals.subtotal
    for source, line in zip(lines, totals.lines, strict=True):
        assert line.subtotal == source.unit_amount * source.quantity
        assert 0 <= line.discount <= line.subtotal
        assert all(t.amount >= 0 for t in line.taxes)
        inclusive = line.tax - line.exclusive_tax
        assert inclusive <= line.subtotal - line.discount


@given(amount=st.integers(0, 10**18), weights=st.lists(st.integers(0, 10**15), min_size=1, max_size=50))
def test_spread_preserves_the_amount(amount: int, weights: list[int]) -> None:
    shares = spread(amount, weights)
    if sum(weights) == 0:
        assert shares == [0] * len(weights)
    else:
        assert sum(shares) == amount
        assert all(s >= 0 for s in shares)
        assert all(s == 0 for s, w in zip(shares, weights, strict=True) if w == 0)

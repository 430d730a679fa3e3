"""The totals arithmetic on its own: worked examples and properties that must hold for any input."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kassa.checkout.amounts import (
    PERCENT_SCALE,
    DiscountInput,
    LimitBreach,
    LineInput,
    TaxRateInput,
    compute_totals,
    limit_breaches,
    spread,
)
from kassa.money import MAX_LINE_TOTAL, MAX_QUANTITY, MAX_SESSION_TOTAL, MAX_UNIT_AMOUNT, STORAGE_MAX, div_half_up

USDC = 100_000_000  # 1 unit in 8 decimals


def test_lines_without_discount_or_tax_add_up() -> None:
    totals = compute_totals([LineInput(25 * USDC, 2), LineInput(5 * USDC, 1)])
    assert (totals.subtotal, totals.discount, totals.tax, totals.total) == (55 * USDC, 0, 0, 55 * USDC)


def test_percent_off_rounds_half_up_and_never_takes_a_line_below_zero() -> None:
    # 50 % of 3 one-unit lines is 1.5, rounded half-up to 2: two lines lose 1 each, none loses 2 (issue #16).
    lines = [LineInput(1, 1), LineInput(1, 1), LineInput(1, 1)]
    totals = compute_totals(lines, DiscountInput(percent_off_e4=500_000))
    assert totals.discount == 2
    assert [line.discount for line in totals.lines] == [1, 1, 0]
    assert [line.total for line in totals.lines] == [0, 0, 1]
    assert totals.total == 1


def test_a_tiny_last_line_takes_no_rounding_remainder() -> None:
    # 1 USDC, 1 USDC and 0.00000001 USDC at 33.3333 % off: the old rule gave the last line −1.
    lines = [LineInput(USDC, 1), LineInput(USDC, 1), LineInput(1, 1)]
    totals = compute_totals(lines, DiscountInput(percent_off_e4=333_333))
    assert totals.discount == 66_666_600  # 200000001 × 0.333333 = 66666600.33…, half-up
    assert [line.discount for line in totals.lines] == [33_333_300, 33_333_300, 0]
    assert [line.total for line in totals.lines] == [66_666_700, 66_666_700, 1]


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


def test_leftover_units_go_to_the_largest_rounding_losses_then_larger_then_earlier_weights() -> None:
    assert spread(10, [1, 1, 1]) == [4, 3, 3]  # equal losses and weights: the earlier line
    assert spread(2, [1, 1, 1]) == [1, 1, 0]
    assert spread(5, [1, 2, 3]) == [1, 2, 2]  # quotas 5/6, 10/6, 15/6: losses 5/6, 4/6, 3/6
    assert spread(2, [1, 4, 1]) == [0, 2, 0]  # losses all 2/6: the larger weight
    assert spread(1, [1, 3, 2, 3]) == [0, 1, 0, 0]  # losses 1/9, 3/9, 2/9, 3/9: the earlier of the two largest
    assert spread(10, [0, 5, 0]) == [0, 10, 0]
    assert spread(3, [1, 1, 1]) == [1, 1, 1]  # the whole of every line
    assert spread(0, [1, 2]) == [0, 0]
    assert spread(7, [0, 0]) == [0, 0]
    assert spread(7, []) == []


@pytest.mark.parametrize(("amount", "weights"), [(-1, [1]), (1, [2, -1])])
def test_negative_amounts_or_weights_are_refused(amount: int, weights: list[int]) -> None:
    with pytest.raises(ValueError, match=r"^amounts and weights are non-negative$"):
        spread(amount, weights)


@pytest.mark.parametrize("line", [LineInput(-1, 1), LineInput(1, 0)], ids=["negative unit amount", "zero quantity"])
def test_negative_unit_amounts_and_zero_quantities_are_refused(line: LineInput) -> None:
    with pytest.raises(ValueError, match=r"^unit amounts are non-negative and quantities at least 1$"):
        compute_totals([line])


@pytest.mark.parametrize("percent", [-1, PERCENT_SCALE + 1])
def test_percent_off_outside_0_to_100_is_refused(percent: int) -> None:
    with pytest.raises(ValueError, match=r"^percent off must lie between 0 and 100 %$"):
        compute_totals([LineInput(1, 1)], DiscountInput(percent_off_e4=percent))


def test_discounts_take_nothing_from_an_empty_subtotal_or_when_empty() -> None:
    assert compute_totals([LineInput(0, 3)], DiscountInput(amount_off=5)).discount == 0
    assert compute_totals([LineInput(4, 1)], DiscountInput()).discount == 0
    assert compute_totals([LineInput(4, 1)], DiscountInput(amount_off=-3)).discount == 0
    assert compute_totals([LineInput(4, 1)], DiscountInput(percent_off_e4=0)).total == 4
    assert compute_totals([LineInput(4, 1)], DiscountInput(percent_off_e4=PERCENT_SCALE)).total == 0


# ---------------------------------------------------------------------------------------------------------------
# Properties, each also run on the edge cases below (Hypothesis rarely generates them on its own).

ADDED = TaxRateInput("vat", 190_000, inclusive=False)  # 19 %
INCLUDED = TaxRateInput("inc", 200_000, inclusive=True)  # 20 %
ALL_ADDED = TaxRateInput("all+", PERCENT_SCALE, inclusive=False)  # 100 %
ALL_INCLUDED = TaxRateInput("all", PERCENT_SCALE, inclusive=True)  # 100 %
ZERO_INCLUDED = TaxRateInput("zero", 0, inclusive=True)
TINY_ADDED = TaxRateInput("tiny", 1, inclusive=False)  # 0.0001 %
EDGES: list[tuple[list[LineInput], DiscountInput | None]] = [
    ([LineInput(1, 1)] * 3, DiscountInput(percent_off_e4=500_000)),  # one-unit lines
    ([LineInput(USDC, 1), LineInput(USDC, 1), LineInput(1, 1)], DiscountInput(percent_off_e4=333_333)),  # tiny last
    ([LineInput(1, 1), LineInput(USDC, 3, (ADDED,))], DiscountInput(percent_off_e4=333_333)),  # tiny first
    ([LineInput(7, 3, (ADDED, INCLUDED)), LineInput(1, 1, (INCLUDED,))], DiscountInput(percent_off_e4=PERCENT_SCALE)),
    ([LineInput(5, 1), LineInput(3, 2, (INCLUDED,))], DiscountInput(amount_off=11)),  # amount off = subtotal
    ([LineInput(5, 1), LineInput(3, 2)], DiscountInput(amount_off=12)),  # amount off > subtotal
    ([LineInput(5, 1)], DiscountInput(amount_off=MAX_SESSION_TOTAL)),
    ([LineInput(1, 1)] * 100, DiscountInput(amount_off=99)),  # many lines
    ([LineInput(i % 3, i % 7 + 1, (ADDED,)) for i in range(100)], DiscountInput(percent_off_e4=999_999)),
    ([LineInput(0, 1), LineInput(0, 5, (ADDED,))], DiscountInput(percent_off_e4=500_000)),  # zero-amount lines
    ([LineInput(0, 1), LineInput(1, 1), LineInput(0, 2)], DiscountInput(amount_off=1)),
    ([LineInput(1, 1, (ALL_INCLUDED, ALL_INCLUDED, INCLUDED))], None),  # inclusive rates sharing one unit
    ([LineInput(3, 1, (ZERO_INCLUDED, INCLUDED, ADDED))], DiscountInput(percent_off_e4=1)),
    ([LineInput(MAX_UNIT_AMOUNT, 10_000, (ALL_ADDED,) * 5)], None),  # the largest line, taxed five times over
    ([LineInput(MAX_UNIT_AMOUNT, 100, (TINY_ADDED, ALL_INCLUDED))], DiscountInput(percent_off_e4=1)),
]


def at_the_edges(test: Callable[..., None]) -> Callable[..., None]:
    for lines, discount in EDGES:
        test = example(lines=lines, discount=discount)(test)
    return test


def rounded(quota: Fraction) -> set[int]:
    """The two integers a share with this exact quota may be: rounded down or up."""
    return {quota.numerator // quota.denominator, -(-quota.numerator // quota.denominator)}


rates = st.lists(
    st.builds(
        TaxRateInput,
        st.text(min_size=1, max_size=3),
        st.integers(0, PERCENT_SCALE) | st.sampled_from([0, 1, PERCENT_SCALE]),
        st.booleans(),
    ),
    max_size=5,
)
unit_amounts = st.integers(0, MAX_UNIT_AMOUNT) | st.integers(0, 3)
lines = st.lists(st.builds(LineInput, unit_amounts, st.integers(1, 10_000), rates), min_size=1, max_size=20)
discounts = (
    st.none()
    | st.builds(DiscountInput, percent_off_e4=st.integers(0, PERCENT_SCALE) | st.sampled_from([1, PERCENT_SCALE]))
    | st.builds(DiscountInput, amount_off=st.integers(0, MAX_SESSION_TOTAL) | st.integers(0, 10))
)


@given(lines=lines, discount=discounts)
@at_the_edges
def test_totals_always_equal_the_sum_of_their_parts(lines: list[LineInput], discount: DiscountInput | None) -> None:
    totals = compute_totals(lines, discount)
    assert totals.subtotal == sum(line.subtotal for line in totals.lines)
    assert totals.discount == sum(line.discount for line in totals.lines)
    assert totals.tax == sum(line.tax for line in totals.lines)
    assert totals.total == sum(line.total for line in totals.lines)
    exclusive = sum(line.exclusive_tax for line in totals.lines)
    assert totals.total == totals.subtotal - totals.discount + exclusive
    for source, line in zip(lines, totals.lines, strict=True):
        assert line.subtotal == source.unit_amount * source.quantity
        assert line.total == line.subtotal - line.discount + line.exclusive_tax


@given(lines=lines, discount=discounts)
@at_the_edges
def test_no_amount_is_ever_negative_and_no_line_gives_more_than_it_has(
    lines: list[LineInput], discount: DiscountInput | None
) -> None:
    totals = compute_totals(lines, discount)
    assert 0 <= totals.discount <= totals.subtotal
    assert min(totals.subtotal, totals.tax, totals.total) >= 0
    for line in totals.lines:
        assert 0 <= line.discount <= line.subtotal
        assert line.total >= 0
        assert all(t.amount >= 0 for t in line.taxes)
        assert line.tax - line.exclusive_tax <= line.subtotal - line.discount  # inclusive tax within the base


@given(lines=lines, discount=discounts)
@at_the_edges
def test_the_discount_is_the_rounded_rule_shared_by_quota(
    lines: list[LineInput], discount: DiscountInput | None
) -> None:
    totals = compute_totals(lines, discount)
    if discount is None or totals.subtotal == 0:
        assert totals.discount == 0
    elif discount.percent_off_e4 is not None:
        assert totals.discount == div_half_up(totals.subtotal * discount.percent_off_e4, PERCENT_SCALE)
    else:
        assert discount.amount_off is not None
        assert totals.discount == min(discount.amount_off, totals.subtotal)
    for line in totals.lines:
        if totals.subtotal:
            assert line.discount in rounded(Fraction(totals.discount * line.subtotal, totals.subtotal))


@given(lines=lines, discount=discounts)
@at_the_edges
def test_each_tax_is_exact_and_inclusive_tax_is_shared_by_quota(
    lines: list[LineInput], discount: DiscountInput | None
) -> None:
    totals = compute_totals(lines, discount)
    for source, line in zip(lines, totals.lines, strict=True):
        base = line.subtotal - line.discount
        inclusive_rates = [r for r in source.tax_rates if r.inclusive]
        combined = sum(r.percentage_e4 for r in inclusive_rates)
        contained = div_half_up(base * combined, PERCENT_SCALE + combined)
        inclusive = [t for t in line.taxes if t.inclusive]
        exclusive = [t for t in line.taxes if not t.inclusive]
        assert [t.tax_rate_id for t in inclusive] == [r.id for r in inclusive_rates]
        assert [t.inclusive for t in line.taxes] == [True] * len(inclusive) + [False] * len(exclusive)
        assert [t.tax_rate_id for t in exclusive] == [r.id for r in source.tax_rates if not r.inclusive]
        assert sum(t.amount for t in inclusive) == contained <= base
        for rate, tax in zip(inclusive_rates, inclusive, strict=True):
            quota = Fraction(contained * rate.percentage_e4, combined) if combined else Fraction(0)
            assert tax.amount in rounded(quota)
        net = base - contained
        for rate, tax in zip([r for r in source.tax_rates if not r.inclusive], exclusive, strict=True):
            assert tax.amount == div_half_up(net * rate.percentage_e4, PERCENT_SCALE)
        assert line.total == base + sum(t.amount for t in exclusive)


weights = st.lists(st.integers(0, 10**15) | st.integers(0, 3), max_size=100)


@given(amount=st.integers(0, 10**18) | st.integers(0, 10), weights=weights)
@example(amount=2, weights=[1, 1, 1])
@example(amount=66_666_600, weights=[USDC, USDC, 1])  # a tiny last weight
@example(amount=3, weights=[1, 1, 1])  # everything
@example(amount=99, weights=[1] * 100)  # many weights
@example(amount=5, weights=[0, 5, 0])  # zero weights
@example(amount=5, weights=[0, 0])
@example(amount=7, weights=[])
@example(amount=10**17, weights=[1, PERCENT_SCALE, 2])  # inclusive tax over rates: far more than the weights
def test_shares_add_up_each_is_its_quota_rounded_by_largest_remainder(amount: int, weights: list[int]) -> None:
    shares = spread(amount, weights)
    total = sum(weights)
    assert len(shares) == len(weights)
    if total == 0:
        assert shares == [0] * len(weights)
        return
    assert sum(shares) == amount
    losses = []
    for share, weight in zip(shares, weights, strict=True):
        quota = Fraction(amount * weight, total)
        assert share in rounded(quota)
        if weight == 0:
            assert share == 0
        if amount <= total:
            assert share <= weight
        if quota.denominator != 1:  # rounded: up for the largest losses, down for the others
            losses.append((share > quota, (amount * weight) % total, weight))
    rounded_up = [(loss, w) for up, loss, w in losses if up]
    rounded_down = [(loss, w) for up, loss, w in losses if not up]
    if rounded_up and rounded_down:
        assert min(rounded_up) >= max(rounded_down)


# ---------------------------------------------------------------------------------------------------------------
# Limits: what passes `limit_breaches` fits every column whatever the discount; what fails is really too large.

LIMIT_EDGES: list[list[LineInput]] = [
    [LineInput(MAX_UNIT_AMOUNT, MAX_LINE_TOTAL // MAX_UNIT_AMOUNT)],  # a line exactly at the limit
    [LineInput(MAX_LINE_TOTAL + 1, 1)],  # one past it
    [LineInput(MAX_UNIT_AMOUNT, MAX_QUANTITY)],
    [LineInput(MAX_UNIT_AMOUNT, 9_300)],
    [LineInput(MAX_UNIT_AMOUNT, 1_000)] * 100,
    [LineInput(MAX_SESSION_TOTAL // 100_000, 1_000)] * 100,  # the session exactly at the limit
    [LineInput(MAX_SESSION_TOTAL // 100_000 + 1, 1_000)] * 100,  # 10^5 past it
    [LineInput(MAX_SESSION_TOTAL - 1, 1), LineInput(1, 1)],  # at the limit
    [LineInput(MAX_SESSION_TOTAL, 1), LineInput(1, 1)],  # one past
    [LineInput(MAX_SESSION_TOTAL - 2, 1), LineInput(1, 1, (ALL_ADDED,))],  # with tax: at the limit
    [LineInput(MAX_SESSION_TOTAL - 1, 1), LineInput(1, 1, (ALL_ADDED,))],  # with tax: one past
    [LineInput(99_999_900_000_100_000, 1, (TINY_ADDED,))],  # a line whose tax takes it to the limit
    [LineInput(99_999_900_000_100_001, 1, (TINY_ADDED,))],  # one past
    [LineInput(MAX_LINE_TOTAL, 1, (ALL_INCLUDED,) * 5)],  # inclusive tax adds nothing
    [LineInput(MAX_UNIT_AMOUNT, MAX_QUANTITY, (ALL_ADDED,) * 5)] * 100,  # the largest input the API takes
]


def at_the_limits(test: Callable[..., None]) -> Callable[..., None]:
    for edge in LIMIT_EDGES:
        for discount in (None, DiscountInput(percent_off_e4=1), DiscountInput(amount_off=1)):
            test = example(lines=edge, discount=discount)(test)
    return test


near_limit_lines = st.lists(
    st.builds(
        LineInput,
        st.integers(0, MAX_UNIT_AMOUNT) | st.just(MAX_UNIT_AMOUNT),
        st.integers(1, MAX_QUANTITY) | st.integers(1, 200),
        rates,
    ),
    min_size=1,
    max_size=100,
)


@given(lines=near_limit_lines, discount=discounts)
@at_the_limits
def test_within_the_limits_every_amount_fits_whatever_the_discount(
    lines: list[LineInput], discount: DiscountInput | None
) -> None:
    breaches = limit_breaches(lines)
    largest = compute_totals(lines)
    if breaches:
        for breach in breaches:
            assert breach.amount > breach.limit
            if breach.line is not None:
                assert (breach.kind, breach.amount) == ("line_subtotal", largest.lines[breach.line].subtotal)
            else:
                assert breach.amount == (largest.subtotal if breach.kind == "subtotal" else largest.total)
        return
    assert largest.total <= MAX_SESSION_TOTAL
    totals = compute_totals(lines, discount)
    for line in totals.lines:
        assert line.subtotal <= MAX_LINE_TOTAL
        assert max(line.total, line.discount, line.tax, *(t.amount for t in line.taxes)) <= MAX_SESSION_TOTAL
    assert max(totals.subtotal, totals.discount, totals.tax, totals.total) <= MAX_SESSION_TOTAL <= STORAGE_MAX


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([LineInput(MAX_LINE_TOTAL, 1)], []),
        ([LineInput(MAX_LINE_TOTAL + 1, 1)], [LimitBreach("line_subtotal", MAX_LINE_TOTAL + 1, MAX_LINE_TOTAL, 0)]),
        (
            [LineInput(MAX_LINE_TOTAL + 1, 1), LineInput(1, 1), LineInput(MAX_LINE_TOTAL + 2, 1)],
            [  # each line named, the session not repeated
                LimitBreach("line_subtotal", MAX_LINE_TOTAL + 1, MAX_LINE_TOTAL, 0),
                LimitBreach("line_subtotal", MAX_LINE_TOTAL + 2, MAX_LINE_TOTAL, 2),
            ],
        ),
        ([LineInput(99_999_900_000_100_000, 1, (TINY_ADDED,))], []),
        (
            [LineInput(99_999_900_000_100_001, 1, (TINY_ADDED,))],
            [LimitBreach("total", MAX_SESSION_TOTAL + 1, MAX_SESSION_TOTAL)],
        ),
        ([LineInput(MAX_SESSION_TOTAL - 1, 1), LineInput(1, 1)], []),
        (
            [LineInput(MAX_SESSION_TOTAL, 1), LineInput(1, 1)],
            [LimitBreach("subtotal", MAX_SESSION_TOTAL + 1, MAX_SESSION_TOTAL)],
        ),
        ([LineInput(MAX_SESSION_TOTAL - 2, 1), LineInput(1, 1, (ALL_ADDED,))], []),
        (
            [LineInput(MAX_SESSION_TOTAL - 1, 1), LineInput(1, 1, (ALL_ADDED,))],
            [LimitBreach("total", MAX_SESSION_TOTAL + 1, MAX_SESSION_TOTAL)],
        ),
    ],
    ids=[
        "line at",
        "line past",
        "lines past",
        "taxed line at",
        "taxed line past",
        "session at",
        "session past",
        "total at",
        "total past",
    ],
)
def test_limit_breaches_name_each_amount_one_past_its_limit(
    lines: list[LineInput], expected: list[LimitBreach]
) -> None:
    assert limit_breaches(lines) == expected

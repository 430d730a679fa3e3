"""Checkout totals, exact in 8-decimal integers. Every rounding rule of the product is written here, once.

Order of operations (DESIGN §4):
1. Line subtotal = unit amount × quantity.
2. Discount on the session subtotal: percent off = subtotal × percent, rounded half-up to the unit;
   amount off = min(amount off, subtotal). The discount is shared over the lines in proportion to their
   subtotals by `spread` (below), so the shares add up to the discount and no share exceeds its line: no line
   goes below zero.
3. Taxes per line on the discounted line amount (the base). Inclusive rates are contained in the base:
   inclusive tax = base × P / (1 + P) for the sum P of the line's inclusive rates, half-up (so never more than
   the base), shared between those rates in proportion to their percentages by `spread`. Exclusive rates are
   added: each = net × rate, half-up, where net = base − inclusive tax.
4. Line total = base + exclusive taxes. Session total = Σ line totals = subtotal − discount + exclusive tax.
   `amountTax` counts inclusive and exclusive tax (what the buyer's total contains in tax).
Percentages are integers scaled by 10^4 (7.25 % = 72500), so 100 % = 1_000_000.

Sharing an amount in proportion (`spread`, the largest-remainder method): each weight w of the total W first gets
its exact quota amount × w / W rounded down; the units left over (fewer than the number of weights) go one each
to the weights whose quotas lost the most to rounding, ties to the larger weight, then to the earlier one. So every
share is its quota rounded down or up, a zero weight gets nothing, and when the amount is at most W (a discount
never exceeds the subtotal) no share exceeds its weight.

Limits (`kassa.money`): `limit_breaches` names the line and session amounts that would exceed them. It looks at
the amounts before any discount, the largest they can be, so that no discount applied or removed later matters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from kassa.money import MAX_LINE_TOTAL, MAX_SESSION_TOTAL, div_half_up

PERCENT_SCALE = 1_000_000  # 100 % in percent × 10^4


@dataclass(frozen=True)
class TaxRateInput:
    id: str
    percentage_e4: int
    inclusive: bool


@dataclass(frozen=True)
class LineInput:
    unit_amount: int
    quantity: int
    tax_rates: Sequence[TaxRateInput] = ()


@dataclass(frozen=True)
class DiscountInput:
    percent_off_e4: int | None = None
    amount_off: int | None = None


@dataclass(frozen=True)
class TaxAmount:
    tax_rate_id: str
    amount: int
    inclusive: bool


@dataclass(frozen=True)
class LineTotals:
    subtotal: int
    discount: int
    taxes: tuple[TaxAmount, ...]
    total: int

    @property
    def tax(self) -> int:
        return sum(t.amount for t in self.taxes)

    @property
    def exclusive_tax(self) -> int:
        return sum(t.amount for t in self.taxes if not t.inclusive)


@dataclass(frozen=True)
class Totals:
    lines: tuple[LineTotals, ...]
    subtotal: int
    discount: int
    tax: int
    total: int


@dataclass(frozen=True)
class LimitBreach:
    """An amount past its limit: a line's (`line` is its index) or the session's (`line` is None)."""

    kind: Literal["line_subtotal", "subtotal", "total"]
    amount: int
    limit: int
    line: int | None = None


def compute_totals(lines: Sequence[LineInput], discount: DiscountInput | None = None) -> Totals:
    for line in lines:
        if line.unit_amount < 0 or line.quantity < 1:
            raise ValueError("unit amounts are non-negative and quantities at least 1")
    subtotals = [line.unit_amount * line.quantity for line in lines]
    subtotal = sum(subtotals)
    total_discount = session_discount(subtotal, discount)
    shares = spread(total_discount, subtotals)
    # `spread` gives one share per weight, so strict=True never fires: mutants that drop it are equivalent.
    out = tuple(_line(line, sub, share) for line, sub, share in zip(lines, subtotals, shares, strict=True))
    return Totals(
        lines=out,
        subtotal=subtotal,
        discount=total_discount,
        tax=sum(line.tax for line in out),
        total=sum(line.total for line in out),
    )


def limit_breaches(lines: Sequence[LineInput]) -> list[LimitBreach]:
    """The amounts of these lines, before any discount, that exceed `MAX_LINE_TOTAL` or `MAX_SESSION_TOTAL`.

    Each line's subtotal first; then, only when every line fits (one line too large makes the session too large
    as well), the session's subtotal, else its total with tax (never less: tax is added or contained). The session
    total bounds every line's total with tax too, as each is a part of it."""
    totals = compute_totals(lines)
    breaches = [
        LimitBreach("line_subtotal", line.subtotal, MAX_LINE_TOTAL, index)
        for index, line in enumerate(totals.lines)
        if line.subtotal > MAX_LINE_TOTAL
    ]
    if breaches:
        return breaches
    if totals.subtotal > MAX_SESSION_TOTAL:
        breaches.append(LimitBreach("subtotal", totals.subtotal, MAX_SESSION_TOTAL))
    elif totals.total > MAX_SESSION_TOTAL:
        breaches.append(LimitBreach("total", totals.total, MAX_SESSION_TOTAL))
    return breaches


def session_discount(subtotal: int, discount: DiscountInput | None) -> int:
    if discount is None or subtotal == 0:
        return 0
    if discount.percent_off_e4 is not None:
        if not 0 <= discount.percent_off_e4 <= PERCENT_SCALE:
            raise ValueError("percent off must lie between 0 and 100 %")
        return div_half_up(subtotal * discount.percent_off_e4, PERCENT_SCALE)
    if discount.amount_off is not None:
        return min(max(discount.amount_off, 0), subtotal)
    return 0


def spread(amount: int, weights: Sequence[int]) -> list[int]:
    """Split `amount` in proportion to `weights` by largest remainder (see the module docstring).

    The shares add up to `amount` (all zero when the weights are), each is its exact quota rounded down or up,
    and none exceeds its weight while `amount` is at most their sum."""
    if amount < 0 or any(w < 0 for w in weights):
        raise ValueError("amounts and weights are non-negative")
    total = sum(weights)
    if total == 0:
        return [0] * len(weights)
    shares = [amount * w // total for w in weights]
    left = amount - sum(shares)
    # Largest part lost to rounding first (amount × w mod total, all over the same total), then larger weight,
    # then earlier position.
    order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), -weights[i], i))
    for i in order[:left]:
        shares[i] += 1
    return shares


def _line(line: LineInput, subtotal: int, discount: int) -> LineTotals:
    base = subtotal - discount
    inclusive = [r for r in line.tax_rates if r.inclusive]
    exclusive = [r for r in line.tax_rates if not r.inclusive]
    taxes: list[TaxAmount] = []
    inclusive_tax = 0
    if inclusive:
        combined = sum(r.percentage_e4 for r in inclusive)
        inclusive_tax = div_half_up(base * combined, PERCENT_SCALE + combined)
        # One share per rate again: mutants of strict=True are equivalent.
        for rate, share in zip(inclusive, spread(inclusive_tax, [r.percentage_e4 for r in inclusive]), strict=True):
            taxes.append(TaxAmount(rate.id, share, True))
    net = base - inclusive_tax
    for rate in exclusive:
        taxes.append(TaxAmount(rate.id, div_half_up(net * rate.percentage_e4, PERCENT_SCALE), False))
    total = base + sum(t.amount for t in taxes if not t.inclusive)
    return LineTotals(subtotal=subtotal, discount=discount, taxes=tuple(taxes), total=total)

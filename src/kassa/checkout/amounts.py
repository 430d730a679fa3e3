"""Checkout totals, exact in 8-decimal integers. Every rounding rule of the product is written here, once.

Order of operations (DESIGN §4):
1. Line subtotal = unit amount × quantity.
2. Discount on the session subtotal: percent off = subtotal × percent, rounded half-up to the unit;
   amount off = min(amount off, subtotal). The discount is spread over the lines in proportion to their
   subtotals (each share rounded down), the remainder going to the last line with a subtotal, so the shares
   always add up to the discount and no line goes below zero.
3. Taxes per line on the discounted line amount (the base). Inclusive rates are contained in the base:
   inclusive tax = base × P / (1 + P) for the sum P of the line's inclusive rates, half-up, shared between those
   rates in proportion (remainder to the last). Exclusive rates are added: each = net × rate, half-up, where net
   = base − inclusive tax.
4. Line total = base + exclusive taxes. Session total = Σ line totals = subtotal − discount + exclusive tax.
   `amountTax` counts inclusive and exclusive tax (what the buyer's total contains in tax).
Percentages are integers scaled by 10^4 (7.25 % = 72500), so 100 % = 1_000_000.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kassa.money import div_half_up

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


def compute_totals(lines: Sequence[LineInput], discount: DiscountInput | None = None) -> Totals:
    for line in lines:
        if line.unit_amount < 0 or line.quantity < 1:
            raise ValueError("unit amounts are non-negative and quantities at least 1")
    subtotals = [line.unit_amount * line.quantity for line in lines]
    subtotal = sum(subtotals)
    total_discount = session_discount(subtotal, discount)
    shares = spread(total_discount, subtotals)
    out = tuple(_line(line, sub, share) for line, sub, share in zip(lines, subtotals, shares, strict=True))
    return Totals(
        lines=out,
        subtotal=subtotal,
        discount=total_discount,
        tax=sum(line.tax for line in out),
        total=sum(line.total for line in out),
    )


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
    """Split `amount` in proportion to `weights` (rounded down), the remainder to the last non-zero weight."""
    total = sum(weights)
    if total == 0 or amount == 0:
        return [0] * len(weights)
    shares = [amount * w // total for w in weights]
    last = max(i for i, w in enumerate(weights) if w > 0)
    shares[last] += amount - sum(shares)
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
        for rate, share in zip(inclusive, spread(inclusive_tax, [r.percentage_e4 for r in inclusive]), strict=True):
            taxes.append(TaxAmount(rate.id, share, True))
    net = base - inclusive_tax
    for rate in exclusive:
        taxes.append(TaxAmount(rate.id, div_half_up(net * rate.percentage_e4, PERCENT_SCALE), False))
    total = base + sum(t.amount for t in taxes if not t.inclusive)
    return LineTotals(subtotal=subtotal, discount=discount, taxes=tuple(taxes), total=total)

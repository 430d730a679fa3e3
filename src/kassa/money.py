"""Currencies, the exact arithmetic of money, and its limits. Amounts are ints with 8 implied decimals; never floats.

The limits (listed in docs/security.md). Every amount is stored in a signed 64-bit column (BIGINT on PostgreSQL,
INTEGER on SQLite), which holds at most 2**63 - 1, about 9.22 * 10**18: 92,233,720,368 units at 8 decimals. The
limits keep every stored amount 92 times below that, so sums over a session (payments received, which may exceed
its total) fit as well. Anything larger is refused with a 400 naming the field, where it enters:
- `MAX_UNIT_AMOUNT`: one amount a client or buyer names: a price's `unitAmount` (also in `priceData` and
  `defaultPriceData`), its pay-what-you-want `customUnitMin/Max/Preset` and suggestions, a coupon's `amountOff`,
  and the amount a buyer types on the hosted page.
- `MAX_QUANTITY`: one line's `quantity`.
- `MAX_LINE_TOTAL`: one line's subtotal, unit amount × quantity (refused as `lineItems.data.N.quantity`).
- `MAX_SESSION_TOTAL`: a session's subtotal (refused as `lineItems`) and its total with tax (`amountTotal`),
  which bounds each line's total with tax as well.
  Both are checked before any discount, with each pay-what-you-want line at `MAX_UNIT_AMOUNT`, so that nothing a
  buyer does later on the page (typing an amount, removing a promotion code) can go past it.
"""

from __future__ import annotations

from enum import StrEnum

API_DECIMALS = 8
ONE_UNIT = 10**API_DECIMALS

STORAGE_MAX = 2**63 - 1  # the largest value of the BIGINT / INTEGER amount columns
MAX_UNIT_AMOUNT = 10**15  # 10,000,000 units
MAX_QUANTITY = 1_000_000
MAX_LINE_TOTAL = 10**17  # 1,000,000,000 units
MAX_SESSION_TOTAL = 10**17  # 1,000,000,000 units, tax included


class Currency(StrEnum):
    """Copperx's CryptoCurrency enum: the currencies a price can be set in."""

    USDC = "usdc"
    USDT = "usdt"
    PYUSD = "pyusd"
    EURC = "eurc"
    BRETT = "brett"
    DAI = "dai"
    BTC = "btc"
    ETH = "eth"
    MATIC = "matic"
    BNB = "bnb"
    SOL = "sol"
    BUSD = "busd"
    TRX = "trx"
    FOOD = "food"
    BONK = "bonk"
    WIF = "wif"
    GOAT = "goat"
    SPX = "spx"
    TRUF = "truf"
    PENGU = "pengu"


def div_half_up(numerator: int, denominator: int) -> int:
    """Integer division rounding halves away from zero (for non-negative inputs: up)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    if numerator < 0:
        return -div_half_up(-numerator, denominator)
    return (2 * numerator + denominator) // (2 * denominator)

"""Currencies and the exact arithmetic of money. Amounts are ints with 8 implied decimals; never floats."""

from __future__ import annotations

from enum import StrEnum

API_DECIMALS = 8
ONE_UNIT = 10**API_DECIMALS


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


def div_ceil(numerator: int, denominator: int) -> int:
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    return -(-numerator // denominator)

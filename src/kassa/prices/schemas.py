"""The answer of `GET /api/v1/constants/prices`: Copperx's shape, plus where each price comes from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from kassa.api.schemas import OutModel
from kassa.api.types import Timestamp
from kassa.prices.currencies import COINGECKO_IDS
from kassa.prices.service import Price


class PriceOut(OutModel):
    currency: str
    # A rate, not an amount: Copperx types it as a number, and clients expect one. Computed exactly, converted
    # to a float only here, at the edge.
    price: float
    coingecko_id: str | None = None
    # Kassa's additions: `peg` (a stablecoin at its peg) or `feed` (an on-chain price feed), and when the oldest
    # feed answer the price rests on was updated (null for a peg in US dollars).
    source: Literal["peg", "feed"]
    updated_at: Timestamp | None = None

    @classmethod
    def of(cls, price: Price) -> PriceOut:
        return cls(
            currency=price.currency,
            price=float(price.price),
            coingecko_id=COINGECKO_IDS.get(price.currency),
            source=price.source,
            updated_at=price.updated_at,
        )


class PricesOut(OutModel):
    prices: list[PriceOut]

    @classmethod
    def of(cls, prices: Sequence[Price]) -> PricesOut:
        return cls(prices=[PriceOut.of(price) for price in prices])

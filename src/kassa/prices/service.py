"""Each token's price in a fiat currency: from the configured on-chain feeds, else from the token's peg.

Rules (docs/payments.md, Prices):
- A token with a feed on an enabled chain is priced by its freshest fresh answer (mainnet feeds before testnet
  ones); a token without one by its peg (USDC and USDT at 1 USD); any other token is not listed.
- A configured feed replaces the peg: when none of a token's feeds has a fresh answer, the token is left out of
  the answer rather than priced at a peg the operator chose to check.
- A price in EUR is the USD price divided by EUR/USD; with no fresh EUR/USD answer nothing can be priced in EUR,
  and the request fails with 503 (`PriceUnavailable`).
- Readings are cached per process for `CACHE_SECONDS` (failures too), so clients asking before every checkout
  cost one `decimals()` and one `latestRoundData()` per feed and minute, however many they are.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from kassa.api.runtime import Runtime
from kassa.chains.devnet import RpcError
from kassa.chains.registry import DEV_CHAIN_ID, Chain, PriceFeed
from kassa.chains.rpc import DevChainRpc, HttpRpc, Rpc
from kassa.clock import Clock
from kassa.errors import KassaError
from kassa.logs import get_logger
from kassa.prices.currencies import PEGS, QUOTE, TOKENS
from kassa.prices.feeds import FeedError, Reading, read_feed

CACHE_SECONDS = 60
Source = Literal["peg", "feed"]
log = get_logger("kassa.prices")


class PriceUnavailable(KassaError):
    status_code = 503
    code = "price_unavailable"


@dataclass(frozen=True)
class Price:
    """One unit of `currency` (a token) in the fiat currency asked for. `updated_at` is when the oldest feed
    answer it rests on was updated on chain; None for a peg in US dollars, which rests on none."""

    currency: str
    price: Decimal
    source: Source
    updated_at: datetime | None


@dataclass(frozen=True)
class FeedSource:
    chain: Chain
    feed: PriceFeed
    rpc: Rpc


@dataclass(frozen=True)
class _UsdPrice:
    price: Decimal
    source: Source
    updated_at: datetime | None


@dataclass(frozen=True)
class _Cached:
    fetched_at: datetime
    reading: Reading | None


_ONE_USD = _UsdPrice(Decimal(1), "peg", None)


class FeedCache:
    """Each feed's latest reading for `seconds`, by the process clock. A failed read is kept as long: a dead
    RPC is asked once per period, not on every request. One lock per feed, so a slow chain holds up only the
    requests that need its feeds, and concurrent requests make one read between them."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self._clock = clock
        self._ttl = timedelta(seconds=seconds)
        self._entries: dict[tuple[int, str], _Cached] = {}
        self._locks: dict[tuple[int, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def reading(self, source: FeedSource) -> Reading | None:
        key = (source.chain.id, source.feed.address.lower())
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            now = self._clock.now()
            entry = self._entries.get(key)
            if entry is not None and timedelta(0) <= now - entry.fetched_at < self._ttl:
                return entry.reading
            reading = _read(source)
            self._entries[key] = _Cached(now, reading)
            return reading


def _read(source: FeedSource) -> Reading | None:
    try:
        return read_feed(source.rpc, source.feed.address)
    except (RpcError, FeedError) as exc:
        log.warning(
            "price feed unreadable",
            chain_id=source.chain.id,
            pair=source.feed.pair,
            address=source.feed.address,
            error=str(exc),
        )
        return None


class PriceService:
    def __init__(self, sources: Sequence[FeedSource], clock: Clock, *, cache_seconds: float = CACHE_SECONDS) -> None:
        self._clock = clock
        self._cache = FeedCache(clock, cache_seconds)
        self._by_base: dict[str, list[FeedSource]] = {}
        for source in sources:
            self._by_base.setdefault(source.feed.base, []).append(source)

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> PriceService:
        """The feeds of every enabled chain; a chain without an RPC URL has none that can be read."""
        sources = [
            FeedSource(chain, feed, _rpc_for(runtime, chain))
            for chain in runtime.chains.chains.values()
            if chain.enabled
            for feed in chain.price_feeds
        ]
        return cls(sources, runtime.settings.clock)

    def prices(self, currency: str) -> list[Price]:
        """Every token that has a price now, in `currency` (usd, or a fiat currency with an X/USD feed)."""
        now = self._clock.now()
        rate = _ONE_USD if currency == QUOTE else self._usd_price(currency, now)
        if rate is None:
            pair = f"{currency.upper()}/{QUOTE.upper()}"
            raise PriceUnavailable(
                [
                    f"currency: no fresh {pair} price (no {pair} feed is configured, or none answered recently); "
                    f"try again later, or ask in {QUOTE}"
                ]
            )
        prices = []
        for token in TOKENS:
            usd = self._usd_price(token, now)
            if usd is not None:
                times = [t for t in (usd.updated_at, rate.updated_at) if t is not None]
                prices.append(Price(token, usd.price / rate.price, usd.source, min(times) if times else None))
        return prices

    def _usd_price(self, base: str, now: datetime) -> _UsdPrice | None:
        sources = self._by_base.get(base)
        if not sources:
            peg = PEGS.get(base)
            return None if peg is None else _UsdPrice(peg, "peg", None)
        fresh = [
            (source, reading)
            for source in sources
            if (reading := self._cache.reading(source)) is not None and reading.fresh(source.feed, now)
        ]
        if not fresh:
            return None
        _source, reading = max(fresh, key=lambda pair: (not pair[0].chain.testnet, pair[1].updated_at))
        return _UsdPrice(reading.price, "feed", reading.updated_at)


def _rpc_for(runtime: Runtime, chain: Chain) -> Rpc:
    """The dev chain is called in process; every other chain over HTTP."""
    if chain.id == DEV_CHAIN_ID and runtime.devnet is not None:
        return DevChainRpc(runtime.devnet)
    assert chain.rpc_url is not None
    return HttpRpc(chain.rpc_url)

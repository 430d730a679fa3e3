"""`GET /api/v1/constants/prices`: pegs, the dev chain's real price feeds read by eth_call, staleness, the cache,
EUR, and bad input; the feed configuration in KASSA_CONFIG."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from contract import assert_matches_operation
from kassa.api.types import format_timestamp
from kassa.chains.contracts import call_data
from kassa.chains.devnet import EUR_USD, USDC_USD
from kassa.chains.registry import DEV_CHAIN_ID, FEED_MAX_AGE_SECONDS, PriceFeed, build_registry
from kassa.chains.rpc import DevChainRpc
from kassa.clock import FrozenClock
from kassa.config import ConfigError
from kassa.prices.service import CACHE_SECONDS, FeedSource, PriceService, PriceUnavailable
from support import LiveServer

OPERATION = "ConstantsController_getPrices"


# --- helpers ----------------------------------------------------------------------------------------------


def set_feed(live: LiveServer, feed: str, answer: int, updated_at: datetime) -> None:
    """A new round on one of the dev chain's feeds (8 decimals), updated at `updated_at` (a real transaction)."""
    data = call_data("setRoundData(int256,uint256)", ["int256", "uint256"], [answer, int(updated_at.timestamp())])
    live.devnet.transact(live.devnet.accounts[0], feed, data)


def expire_cache(live: LiveServer) -> None:
    live.clock.advance(timedelta(seconds=CACHE_SECONDS + 1))


def forget_cache(live: LiveServer) -> None:
    """Start from an empty cache, as a new process does: the shared server's clock is put back after each test,
    so a reading cached late in one test could still look fresh early in the next."""
    live.app.state.prices = None


def get_prices(live: LiveServer, currency: str | None) -> httpx.Response:
    # No API key: the operation is public in Copperx's contract.
    with live.client() as http:
        return http.get("/api/v1/constants/prices", params={} if currency is None else {"currency": currency})


def prices_of(live: LiveServer, currency: str) -> dict[str, dict[str, Any]]:
    resp = get_prices(live, currency)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert_matches_operation(body, OPERATION)
    return {item["currency"]: item for item in body["prices"]}


def whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


@pytest.fixture
def feeds(live: LiveServer) -> Iterator[datetime]:
    """Both dev feeds at their start answers, updated "now" by the test clock (other tests may have moved it far
    from the chain's own time), and an empty cache; afterwards back to their heartbeat, and the cache emptied."""
    now = whole_second(live.clock.now())
    set_feed(live, live.devnet.contracts.eur_usd_feed, EUR_USD, now)
    set_feed(live, live.devnet.contracts.usdc_usd_feed, USDC_USD, now)
    forget_cache(live)
    yield now
    for feed, answer in (
        (live.devnet.contracts.eur_usd_feed, EUR_USD),
        (live.devnet.contracts.usdc_usd_feed, USDC_USD),
    ):
        live.devnet.transact(live.devnet.accounts[0], feed, call_data("setAnswer(int256)", ["int256"], [answer]))
        live.devnet.transact(live.devnet.accounts[0], feed, call_data("setHeartbeat(bool)", ["bool"], [True]))
    forget_cache(live)


# --- the endpoint -----------------------------------------------------------------------------------------


def test_usd_prices_come_from_the_dev_chain_feed_and_the_peg(live: LiveServer, feeds: datetime) -> None:
    resp = get_prices(live, "usd")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert_matches_operation(body, OPERATION)
    assert body == {
        "prices": [
            # USDC has a feed on the dev chain: the feed, not the peg, prices it.
            {
                "currency": "usdc",
                "price": 1.0,
                "coingeckoId": "usd-coin",
                "source": "feed",
                "updatedAt": format_timestamp(feeds),
            },
            # USDT has none: its peg, labelled as such, resting on no feed.
            {"currency": "usdt", "price": 1.0, "coingeckoId": "tether", "source": "peg", "updatedAt": None},
        ]
    }


def test_a_new_feed_answer_is_the_new_price(live: LiveServer, feeds: datetime) -> None:
    set_feed(live, live.devnet.contracts.usdc_usd_feed, 99_950_000, feeds)  # a slight depeg: 0.9995
    expire_cache(live)
    prices = prices_of(live, "usd")
    assert prices["usdc"]["price"] == 0.9995
    assert prices["usdc"]["source"] == "feed"
    assert prices["usdt"]["price"] == 1.0  # the peg is not touched by another token's feed


def test_eur_prices_divide_by_the_eur_usd_feed(live: LiveServer, feeds: datetime) -> None:
    prices = prices_of(live, "eur")
    assert prices["usdc"]["price"] == float(Decimal(1) / Decimal("1.08"))
    assert prices["usdt"]["price"] == float(Decimal(1) / Decimal("1.08"))
    # The peg in EUR rests on the EUR/USD answer, so it has that answer's time.
    assert prices["usdt"]["source"] == "peg"
    assert prices["usdt"]["updatedAt"] == format_timestamp(feeds)

    older = feeds - timedelta(minutes=10)
    set_feed(live, live.devnet.contracts.eur_usd_feed, 110_000_000, older)
    set_feed(live, live.devnet.contracts.usdc_usd_feed, 99_950_000, feeds)
    expire_cache(live)
    prices = prices_of(live, "eur")
    assert prices["usdc"]["price"] == float(Decimal("0.9995") / Decimal("1.1"))
    assert prices["usdc"]["updatedAt"] == format_timestamp(older)  # the older of the two answers it rests on


def test_currency_is_case_insensitive(live: LiveServer, feeds: datetime) -> None:
    assert prices_of(live, " USD ") == prices_of(live, "usd")


def test_a_stale_token_feed_leaves_the_token_out(live: LiveServer, feeds: datetime) -> None:
    # 30 s either side of the limit: the test clock is real time plus an offset, so it moves a little meanwhile.
    expire_cache(live)  # first, so that the clock stays where it is from here on
    now = live.clock.now()
    set_feed(live, live.devnet.contracts.usdc_usd_feed, USDC_USD, now - timedelta(seconds=3600 - 30))
    assert prices_of(live, "usd")["usdc"]["price"] == 1.0
    expire_cache(live)
    now = live.clock.now()
    set_feed(live, live.devnet.contracts.usdc_usd_feed, USDC_USD, now - timedelta(seconds=3600 + 30))
    prices = prices_of(live, "usd")
    # A configured feed replaces the peg: stale, it does not fall back to 1.0.
    assert "usdc" not in prices
    assert prices["usdt"]["price"] == 1.0


def test_feeds_go_stale_as_the_clock_moves(live: LiveServer, feeds: datetime) -> None:
    assert set(prices_of(live, "usd")) == {"usdc", "usdt"}
    live.clock.advance(timedelta(seconds=FEED_MAX_AGE_SECONDS + 30))
    assert set(prices_of(live, "usd")) == {"usdt"}
    eur = get_prices(live, "eur")
    assert eur.status_code == 503, eur.text
    assert eur.json() == {
        "message": [
            "currency: no fresh EUR/USD price (no EUR/USD feed is configured, or none answered recently); "
            "try again later, or ask in usd"
        ],
        "statusCode": 503,
        "error": "Service Unavailable",
    }


def test_a_stale_eur_feed_fails_eur_only(live: LiveServer, feeds: datetime) -> None:
    set_feed(live, live.devnet.contracts.eur_usd_feed, EUR_USD, feeds - timedelta(hours=2))
    expire_cache(live)
    resp = get_prices(live, "eur")
    assert resp.status_code == 503, resp.text
    assert resp.json()["message"][0].startswith("currency: no fresh EUR/USD price")
    assert prices_of(live, "usd")["usdc"]["price"] == 1.0


@pytest.mark.parametrize("answer", [0, -100_000_000])
def test_a_feed_answer_that_is_no_price_leaves_the_token_out(live: LiveServer, feeds: datetime, answer: int) -> None:
    set_feed(live, live.devnet.contracts.usdc_usd_feed, answer, feeds)
    expire_cache(live)
    assert set(prices_of(live, "usd")) == {"usdt"}


def test_answers_are_cached_until_the_ttl_passes(live: LiveServer, feeds: datetime) -> None:
    assert prices_of(live, "usd")["usdc"]["price"] == 1.0
    set_feed(live, live.devnet.contracts.usdc_usd_feed, 98_000_000, feeds)
    assert prices_of(live, "usd")["usdc"]["price"] == 1.0  # the chain changed, the cached reading did not
    live.clock.advance(timedelta(seconds=CACHE_SECONDS - 10))
    assert prices_of(live, "usd")["usdc"]["price"] == 1.0
    live.clock.advance(timedelta(seconds=11))
    assert prices_of(live, "usd")["usdc"]["price"] == 0.98


@pytest.mark.parametrize(
    ("currency", "message"),
    [
        (None, "currency: is required"),
        ("gbp", "currency: must be one of usd, eur"),
        ("usdc", "currency: must be one of usd, eur"),
        ("", "currency: must be one of usd, eur"),
        ("u" * 21, "currency: String should have at most 20 characters"),
    ],
)
def test_an_unsupported_currency_is_a_400_naming_it(live: LiveServer, currency: str | None, message: str) -> None:
    resp = get_prices(live, currency)
    assert resp.status_code == 400, resp.text
    assert resp.json() == {"message": [message], "statusCode": 400, "error": "Bad Request"}


# --- the service on its own, still on the dev chain's real contracts ----------------------------------------


def dev_source(
    live: LiveServer, base: str, address: str, *, testnet: bool = True, chain_id: int = DEV_CHAIN_ID
) -> FeedSource:
    chain = live.runtime.chains.get(DEV_CHAIN_ID)
    assert chain is not None
    return FeedSource(
        replace(chain, id=chain_id, testnet=testnet), PriceFeed(base, "usd", address), DevChainRpc(live.devnet)
    )


def test_eur_without_any_feed_is_unavailable() -> None:
    service = PriceService([], FrozenClock())
    assert [(p.currency, p.price, p.source) for p in service.prices("usd")] == [
        ("usdc", Decimal(1), "peg"),
        ("usdt", Decimal(1), "peg"),
    ]
    with pytest.raises(PriceUnavailable):
        service.prices("eur")


def test_an_address_that_is_no_feed_leaves_the_token_out(live: LiveServer) -> None:
    # A token contract answers decimals() but reverts latestRoundData(); an address without code answers "0x".
    sources = [
        dev_source(live, "usdc", live.devnet.contracts.usdc),
        dev_source(live, "eth", "0x" + "22" * 20),
    ]
    service = PriceService(sources, FrozenClock())
    assert [p.currency for p in service.prices("usd")] == ["usdt"]


def test_mainnet_feeds_win_over_testnet_ones_then_the_freshest(live: LiveServer, feeds: datetime) -> None:
    clock = FrozenClock(feeds)
    # Two feeds for ETH: the EUR/USD contract (1.08) on a testnet, the USDC/USD one (1.00) on a "mainnet".
    testnet = dev_source(live, "eth", live.devnet.contracts.eur_usd_feed)
    mainnet = dev_source(live, "eth", live.devnet.contracts.usdc_usd_feed, testnet=False, chain_id=1)
    eth = {p.currency: p for p in PriceService([testnet, mainnet], clock).prices("usd")}["eth"]
    assert (eth.price, eth.source) == (Decimal("1.00000000"), "feed")

    set_feed(live, live.devnet.contracts.usdc_usd_feed, USDC_USD, feeds - timedelta(hours=2))  # mainnet stale
    eth = {p.currency: p for p in PriceService([testnet, mainnet], clock).prices("usd")}["eth"]
    assert eth.price == Decimal("1.08000000")

    set_feed(live, live.devnet.contracts.usdc_usd_feed, USDC_USD, feeds - timedelta(minutes=5))
    newer = dev_source(live, "eth", live.devnet.contracts.eur_usd_feed, testnet=False, chain_id=2)
    eth = {p.currency: p for p in PriceService([mainnet, newer], clock).prices("usd")}["eth"]
    assert eth.price == Decimal("1.08000000")  # both fresh mainnets: the later answer


def test_a_failed_read_is_cached_too(live: LiveServer) -> None:
    clock = FrozenClock()
    calls: list[str] = []

    class CountingRpc(DevChainRpc):
        def call(self, method: str, params: list[Any]) -> Any:
            calls.append(method)
            return super().call(method, params)

    source = dev_source(live, "eth", "0x" + "33" * 20)
    service = PriceService([replace(source, rpc=CountingRpc(live.devnet))], clock)
    service.prices("usd")
    service.prices("usd")
    assert calls == ["eth_call"]  # decimals() failed once, and was not asked again within the TTL
    clock.advance(timedelta(seconds=CACHE_SECONDS))
    service.prices("usd")
    assert calls == ["eth_call", "eth_call"]


# --- configuration ------------------------------------------------------------------------------------------

FEED = "0x" + "ab" * 20


def chain_with(feeds: Any) -> dict[str, Any]:
    return {"chains": [{"id": 1, "rpc_url": "http://127.0.0.1:9", "price_feeds": feeds}]}


def test_price_feeds_are_configured_per_chain() -> None:
    registry = build_registry(
        chain_with(
            [{"pair": "EUR/USD", "address": FEED}, {"pair": "usdc/usd", "address": FEED, "max_age_seconds": 90000}]
        )
    )
    chain = registry.get(1)
    assert chain is not None
    assert chain.price_feeds == (
        PriceFeed("eur", "usd", FEED, FEED_MAX_AGE_SECONDS),
        PriceFeed("usdc", "usd", FEED, 90000),
    )
    assert FEED_MAX_AGE_SECONDS == 3600


@pytest.mark.parametrize(
    ("feeds", "message"),
    [
        ({"pair": "usdc/usd"}, "chains[0].price_feeds must be an array of tables"),
        (["usdc/usd"], "chains[0].price_feeds[0] must be a table"),
        ([{"pair": "usdc/usd"}], "chains[0].price_feeds[0] needs pair and address"),
        ([{"pair": "usdc/eur", "address": FEED}], "chains[0].price_feeds[0].pair must be BASE/usd"),
        ([{"pair": "gbp/usd", "address": FEED}], "chains[0].price_feeds[0].pair must be BASE/usd"),
        ([{"pair": "usd/usd", "address": FEED}], "chains[0].price_feeds[0].pair must be BASE/usd"),
        ([{"pair": "usdc/usd", "address": "0x" + "zz" * 20}], "chains[0].price_feeds[0].address must be"),
        ([{"pair": "usdc/usd", "address": FEED[:-2]}], "chains[0].price_feeds[0].address must be"),
        (
            [{"pair": "usdc/usd", "address": FEED, "max_age_seconds": 0}],
            "chains[0].price_feeds[0].max_age_seconds must be a positive",
        ),
        (
            [{"pair": "usdc/usd", "address": FEED, "max_age_seconds": True}],
            "chains[0].price_feeds[0].max_age_seconds must be a positive",
        ),
        (
            [{"pair": "usdc/usd", "address": FEED, "max_age_seconds": 60.5}],
            "chains[0].price_feeds[0].max_age_seconds must be a positive",
        ),
        ([{"pair": "usdc/usd", "address": FEED}] * 2, "chains[0].price_feeds names usdc/usd twice"),
    ],
)
def test_bad_price_feed_configuration_is_refused(feeds: Any, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        build_registry(chain_with(feeds))
    assert f"KASSA_CONFIG: {message}" in str(error.value)

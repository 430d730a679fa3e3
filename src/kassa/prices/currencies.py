"""What can be priced, and in what: the vocabulary shared by the price service and the chain registry's feed
configuration (kept free of imports, so the registry can read it)."""

from __future__ import annotations

from decimal import Decimal

# Every feed prices its base in US dollars; other fiat currencies are reached through their own X/USD feed.
QUOTE = "usd"
# The `currency` query parameter: what a checkout total may be given in.
FIAT_CURRENCIES = ("usd", "eur")
# The token currencies Copperx's answer may name (its schema's enum), in its order: the order of the answer.
TOKENS = (
    "usdc",
    "usdt",
    "pyusd",
    "eurc",
    "brett",
    "dai",
    "btc",
    "eth",
    "matic",
    "bnb",
    "sol",
    "busd",
    "trx",
    "food",
    "bonk",
    "wif",
    "goat",
    "spx",
    "truf",
    "pengu",
)
# What a `[[chains.price_feeds]]` pair may price: a token, or a fiat currency other than the quote.
FEED_BASES = frozenset(TOKENS) | (frozenset(FIAT_CURRENCIES) - {QUOTE})
# Stablecoins priced at their peg (in US dollars) when no feed for them is configured.
PEGS: dict[str, Decimal] = {"usdc": Decimal(1), "usdt": Decimal(1)}
# CoinGecko's ids, which Copperx's answer carries as `coingeckoId`.
COINGECKO_IDS = {
    "usdc": "usd-coin",
    "usdt": "tether",
    "pyusd": "paypal-usd",
    "eurc": "euro-coin",
    "dai": "dai",
    "btc": "bitcoin",
    "eth": "ethereum",
    "bnb": "binancecoin",
    "sol": "solana",
}

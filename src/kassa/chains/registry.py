"""Chains and the stablecoin assets Kassa accepts on them: built-in well-known networks plus KASSA_CONFIG.

Built-in chains ship with their official USDC/USDT contracts but stay disabled until an RPC URL is configured
for them. A `[[chains]]` entry in the TOML config with the id of a built-in chain overrides its fields (and
enables it by giving `rpc_url`); an entry with a new id adds a chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kassa.config import ConfigError
from kassa.prices.currencies import FEED_BASES, QUOTE

DEV_CHAIN_ID = 1337
# A feed's answer older than this is stale unless its entry says otherwise (docs/payments.md, Prices).
FEED_MAX_AGE_SECONDS = 3600


@dataclass(frozen=True)
class Asset:
    currency: str
    address: str
    decimals: int
    symbol: str
    name: str


@dataclass(frozen=True)
class PriceFeed:
    """A Chainlink-style aggregator (AggregatorV3Interface) on a chain: the price of one `base` in `quote`."""

    base: str
    quote: str
    address: str
    max_age_seconds: int = FEED_MAX_AGE_SECONDS

    @property
    def pair(self) -> str:
        return f"{self.base}/{self.quote}"


@dataclass(frozen=True)
class Chain:
    id: int
    name: str
    testnet: bool
    assets: tuple[Asset, ...]
    rpc_url: str | None = None
    confirmations: int = 12
    native_currency: str = "eth"
    explorer_name: str = ""
    explorer_tx_url: str = ""  # with {hash}
    factory_address: str | None = None
    # eth_getLogs block range per request: public providers cap it (often 1,000–10,000 blocks).
    max_block_range: int = 1000
    poll_seconds: float = 2.0
    price_feeds: tuple[PriceFeed, ...] = ()

    @property
    def enabled(self) -> bool:
        return self.rpc_url is not None

    def asset(self, currency: str) -> Asset | None:
        return next((a for a in self.assets if a.currency == currency), None)


def _stable(usdc: str | None, usdt: str | None, decimals: int = 6) -> tuple[Asset, ...]:
    out = []
    if usdc:
        out.append(Asset("usdc", usdc, decimals, "USDC", "USD Coin"))
    if usdt:
        out.append(Asset("usdt", usdt, decimals, "USDT", "Tether USD"))
    return tuple(out)


BUILTIN_CHAINS: tuple[Chain, ...] = (
    Chain(
        1,
        "Ethereum",
        False,
        _stable("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "0xdAC17F958D2ee523a2206206994597C13D831ec7"),
        explorer_name="Etherscan",
        explorer_tx_url="https://etherscan.io/tx/{hash}",
    ),
    Chain(
        137,
        "Polygon",
        False,
        _stable("0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", "0xc2132D05D31c914a87C6611C10748AEb04B58e8F"),
        native_currency="matic",
        confirmations=64,
        explorer_name="PolygonScan",
        explorer_tx_url="https://polygonscan.com/tx/{hash}",
    ),
    Chain(
        8453,
        "Base",
        False,
        _stable("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "0xfde4C96c8593536E31F229EA8f37b2ADa2699bb2"),
        explorer_name="BaseScan",
        explorer_tx_url="https://basescan.org/tx/{hash}",
    ),
    Chain(
        42161,
        "Arbitrum One",
        False,
        _stable("0xaf88d065e77c8cC2239327C5EDb3A432268e5831", "0xFd086bC7CD5C481DCC9C85ebE478A1C0b69FCbb9"),
        explorer_name="Arbiscan",
        explorer_tx_url="https://arbiscan.io/tx/{hash}",
    ),
    Chain(
        10,
        "OP Mainnet",
        False,
        _stable("0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85", "0x94b008aA00579c1307B0EF2c499aD98a8ce58e58"),
        explorer_name="Optimistic Etherscan",
        explorer_tx_url="https://optimistic.etherscan.io/tx/{hash}",
    ),
    # BNB Chain's Binance-Peg stablecoins have 18 decimals.
    Chain(
        56,
        "BNB Smart Chain",
        False,
        _stable(
            "0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d", "0x55d398326f99059fF775485246999027B3197955", decimals=18
        ),
        native_currency="bnb",
        confirmations=15,
        explorer_name="BscScan",
        explorer_tx_url="https://bscscan.com/tx/{hash}",
    ),
    Chain(
        11155111,
        "Sepolia",
        True,
        _stable("0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238", None),
        confirmations=3,
        explorer_name="Etherscan",
        explorer_tx_url="https://sepolia.etherscan.io/tx/{hash}",
    ),
    Chain(
        80002,
        "Polygon Amoy",
        True,
        _stable("0x41E94Eb019C0762f9Bfcf9Fb1E58725BfB0e7582", None),
        native_currency="matic",
        confirmations=5,
        explorer_name="PolygonScan",
        explorer_tx_url="https://amoy.polygonscan.com/tx/{hash}",
    ),
    Chain(
        84532,
        "Base Sepolia",
        True,
        _stable("0x036CbD53842c5426634e7929541eC2318f3dCF7e", None),
        confirmations=3,
        explorer_name="BaseScan",
        explorer_tx_url="https://sepolia.basescan.org/tx/{hash}",
    ),
)


@dataclass(frozen=True)
class ChainRegistry:
    chains: Mapping[int, Chain] = field(default_factory=dict)

    def get(self, chain_id: int) -> Chain | None:
        return self.chains.get(chain_id)

    def for_mode(self, mode: str, *, enabled_only: bool = True) -> list[Chain]:
        """Test-mode keys see testnets (and the dev chain); live keys see mainnets."""
        wanted_testnet = mode == "test"
        return [c for c in self.chains.values() if c.testnet == wanted_testnet and (c.enabled or not enabled_only)]

    def with_chain(self, chain: Chain) -> ChainRegistry:
        return ChainRegistry({**self.chains, chain.id: chain})


def build_registry(file_config: Mapping[str, Any]) -> ChainRegistry:
    chains = {c.id: c for c in BUILTIN_CHAINS}
    for index, raw in enumerate(_as_list(file_config.get("chains", []), "chains")):
        chain = _parse_chain(raw, chains, f"chains[{index}]")
        chains[chain.id] = chain
    return ChainRegistry(chains)


def _as_list(value: Any, where: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"KASSA_CONFIG: {where} must be an array of tables")
    return value


def _parse_chain(raw: Any, known: Mapping[int, Chain], where: str) -> Chain:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), int) or raw["id"] < 1:
        raise ConfigError(f"KASSA_CONFIG: {where}.id must be a positive integer chain id")
    base = known.get(raw["id"])
    fields: dict[str, Any] = {}
    for key, kind in (
        ("name", str),
        ("rpc_url", str),
        ("confirmations", int),
        ("testnet", bool),
        ("factory_address", str),
        ("explorer_tx_url", str),
        ("explorer_name", str),
        ("native_currency", str),
        ("max_block_range", int),
        ("poll_seconds", (int, float)),
    ):
        if key in raw:
            if not isinstance(raw[key], kind) or (isinstance(raw[key], bool) and kind is not bool):
                raise ConfigError(f"KASSA_CONFIG: {where}.{key} has the wrong type")
            fields[key] = raw[key]
    if "confirmations" in fields and fields["confirmations"] < 1:
        raise ConfigError(f"KASSA_CONFIG: {where}.confirmations must be at least 1")
    if "assets" in raw:
        fields["assets"] = tuple(
            _parse_asset(a, f"{where}.assets[{i}]") for i, a in enumerate(_as_list(raw["assets"], f"{where}.assets"))
        )
    if "price_feeds" in raw:
        fields["price_feeds"] = _parse_price_feeds(raw["price_feeds"], f"{where}.price_feeds")
    if base is not None:
        return replace(base, **fields)
    for required in ("name", "testnet"):
        if required not in fields:
            raise ConfigError(f"KASSA_CONFIG: {where}.{required} is required for a chain Kassa does not know")
    return Chain(id=raw["id"], assets=fields.pop("assets", ()), **fields)


def _parse_asset(raw: Any, where: str) -> Asset:
    if not isinstance(raw, dict):
        raise ConfigError(f"KASSA_CONFIG: {where} must be a table")
    currency, address, decimals = raw.get("currency"), raw.get("address"), raw.get("decimals")
    if not isinstance(currency, str) or not isinstance(address, str) or not isinstance(decimals, int):
        raise ConfigError(f"KASSA_CONFIG: {where} needs currency, address and decimals")
    if not (address.startswith("0x") and len(address) == 42):
        raise ConfigError(f"KASSA_CONFIG: {where}.address must be a 0x-prefixed 20-byte address")
    if not 0 <= decimals <= 36:
        raise ConfigError(f"KASSA_CONFIG: {where}.decimals must be between 0 and 36")
    symbol = str(raw.get("symbol", currency.upper()))
    return Asset(currency.lower(), address, decimals, symbol, str(raw.get("name", symbol)))


def _parse_price_feeds(value: Any, where: str) -> tuple[PriceFeed, ...]:
    feeds = tuple(_parse_price_feed(raw, f"{where}[{i}]") for i, raw in enumerate(_as_list(value, where)))
    pairs = [feed.pair for feed in feeds]
    if duplicate := next((pair for pair in pairs if pairs.count(pair) > 1), None):
        raise ConfigError(f"KASSA_CONFIG: {where} names {duplicate} twice")
    return feeds


def _parse_price_feed(raw: Any, where: str) -> PriceFeed:
    if not isinstance(raw, dict):
        raise ConfigError(f"KASSA_CONFIG: {where} must be a table")
    pair, address, max_age = raw.get("pair"), raw.get("address"), raw.get("max_age_seconds", FEED_MAX_AGE_SECONDS)
    if not isinstance(pair, str) or not isinstance(address, str):
        raise ConfigError(f"KASSA_CONFIG: {where} needs pair and address")
    base, _, quote = pair.strip().lower().partition("/")
    if quote != QUOTE or base not in FEED_BASES:
        raise ConfigError(
            f"KASSA_CONFIG: {where}.pair must be BASE/{QUOTE} with BASE one of {', '.join(sorted(FEED_BASES))}"
        )
    if not _is_address(address):
        raise ConfigError(f"KASSA_CONFIG: {where}.address must be a 0x-prefixed 20-byte address")
    if not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 1:
        raise ConfigError(f"KASSA_CONFIG: {where}.max_age_seconds must be a positive whole number of seconds")
    return PriceFeed(base, quote, address, max_age)


def _is_address(value: str) -> bool:
    hex_digits = value[2:]
    return value.startswith("0x") and len(hex_digits) == 40 and all(c in "0123456789abcdefABCDEF" for c in hex_digits)

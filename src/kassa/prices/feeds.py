"""Reading Chainlink-style aggregators (AggregatorV3Interface) with eth_call, and judging their answers.

Chainlink's own advice for consumers: the answer must be positive, the round complete (`updatedAt` set) and
answered in its own round, and recent enough for the feed's heartbeat. A feed that fails any of these gives no
price; Kassa never substitutes a guess for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError

from kassa.chains.contracts import call_data
from kassa.chains.registry import PriceFeed
from kassa.chains.rpc import Rpc

MAX_DECIMALS = 36
_LATEST_ROUND_DATA = ["uint80", "int256", "uint256", "uint256", "uint80"]


class FeedError(Exception):
    """The feed could not be read, or what it answered cannot be a price."""


@dataclass(frozen=True)
class Reading:
    """A feed's latest round: its price (exact), and when it was last updated on chain."""

    price: Decimal
    updated_at: datetime
    round_id: int

    def fresh(self, feed: PriceFeed, now: datetime) -> bool:
        """Not older than the feed's max age. An update time ahead of ours counts as fresh: chains' clocks run
        ahead of ours (the dev chain's does by design), and the check is there to catch a feed that stopped."""
        return (now - self.updated_at).total_seconds() <= feed.max_age_seconds


def read_feed(rpc: Rpc, address: str) -> Reading:
    """`decimals()` and `latestRoundData()` of the aggregator at `address`, with Chainlink's sanity checks."""
    (decimals,) = _call(rpc, address, "decimals()", ["uint8"])
    round_id, answer, _started_at, updated_at, answered_in_round = _call(
        rpc, address, "latestRoundData()", _LATEST_ROUND_DATA
    )
    if decimals > MAX_DECIMALS:
        raise FeedError(f"decimals() is {decimals}, more than {MAX_DECIMALS}")
    if answer <= 0:
        raise FeedError(f"the answer {answer} is not a positive price")
    if updated_at == 0:
        raise FeedError("the latest round is not complete (updatedAt is 0)")
    if answered_in_round < round_id:
        raise FeedError(f"round {round_id} was answered in an earlier round ({answered_in_round})")
    try:
        moment = datetime.fromtimestamp(updated_at, UTC)
    except (OverflowError, OSError, ValueError):
        raise FeedError(f"updatedAt {updated_at} is not a time") from None
    # From text: exact whatever the digits (Decimal arithmetic would round to its context).
    return Reading(price=Decimal(f"{answer}e-{decimals}"), updated_at=moment, round_id=round_id)


def _call(rpc: Rpc, address: str, signature: str, types: list[str]) -> tuple[Any, ...]:
    result = rpc.call("eth_call", [{"to": address, "data": "0x" + call_data(signature, [], []).hex()}, "latest"])
    if not isinstance(result, str) or not result.startswith("0x"):
        raise FeedError(f"{signature} answered {str(result)[:80]!r}, not hex data")
    try:
        return tuple(decode(types, bytes.fromhex(result[2:])))
    except (DecodingError, ValueError) as exc:
        # An address without code answers "0x": not an aggregator.
        raise FeedError(f"{signature} answered data that is not {', '.join(types)}: {exc}") from None

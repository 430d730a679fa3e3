"""The objects a running Kassa process shares: settings and the database."""

from __future__ import annotations

from dataclasses import dataclass, field

from kassa.chains.devnet import DevChain
from kassa.chains.registry import ChainRegistry
from kassa.config import Settings
from kassa.db.engine import Database
from kassa.ratelimit import TokenBuckets


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    chains: ChainRegistry
    devnet: DevChain | None = None
    # Requests per API key (DESIGN §9); None when the operator turned the limit off.
    api_rate_limit: TokenBuckets | None = field(default=None, compare=False)

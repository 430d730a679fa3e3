"""The objects a running Kassa process shares: settings and the database."""

from __future__ import annotations

from dataclasses import dataclass

from kassa.chains.devnet import DevChain
from kassa.chains.registry import ChainRegistry
from kassa.config import Settings
from kassa.db.engine import Database


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    chains: ChainRegistry
    devnet: DevChain | None = None

"""Per-chain scan cursors: how far each chain has been read, and which watcher may read it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kassa.payments.models import ChainCursor


def chain_heads(db: Session, chain_ids: set[int]) -> dict[int, int]:
    """The last scanned block of each chain: the head as far as Kassa knows it."""
    if not chain_ids:
        return {}
    rows = db.execute(select(ChainCursor.chain_id, ChainCursor.last_block).where(ChainCursor.chain_id.in_(chain_ids)))
    return {chain_id: last for chain_id, last in rows}  # noqa: C416  # dict(Result) would read it as a mapping

"""Deposit addresses, the transfers seen on chain, per-chain scan cursors, and merchants' withdrawal addresses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from kassa.db.base import Base, IdMixin, OwnedMixin, TimestampMixin
from kassa.db.types import RawAmount, UTCDateTime


class DepositAddress(IdMixin, Base):
    """A session's counterfactual CREATE2 forwarder address on one chain."""

    __tablename__ = "deposit_addresses"
    __table_args__ = (UniqueConstraint("chain_id", "address"), Index("ix_deposit_addresses_session", "session_id"))

    session_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    mode: Mapped[str] = mapped_column(String(4), nullable=False)
    chain_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Lower-case hex: matched against log topics, which carry no checksum.
    address: Mapped[str] = mapped_column(String(42), nullable=False)
    factory_address: Mapped[str] = mapped_column(String(42), nullable=False)
    salt: Mapped[str] = mapped_column(String(66), nullable=False)
    recipients: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    # What was offered, as it was: {currency, address, decimals, symbol, name} of the token, and the chain's
    # name and explorer, so the session renders the same even if the configuration changes later.
    asset: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    chain_name: Mapped[str] = mapped_column(String(100), nullable=False)
    explorer_name: Mapped[str] = mapped_column(String(100), nullable=False)
    explorer_tx_url: Mapped[str] = mapped_column(String(300), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ChainTransfer(IdMixin, TimestampMixin, Base):
    """One ERC-20 Transfer log to a deposit address, recorded once, however often it is seen."""

    __tablename__ = "chain_transfers"
    __table_args__ = (
        UniqueConstraint("chain_id", "tx_hash", "log_index"),
        Index("ix_chain_transfers_session", "session_id"),
        Index("ix_chain_transfers_chain_state", "chain_id", "state"),
        Index("ix_chain_transfers_org_mode_created", "organization_id", "mode", "created_at"),
    )

    chain_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    tx_hash: Mapped[str] = mapped_column(String(66), nullable=False)
    log_index: Mapped[int] = mapped_column(Integer, nullable=False)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    block_hash: Mapped[str] = mapped_column(String(66), nullable=False)
    block_timestamp: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    token_address: Mapped[str] = mapped_column(String(42), nullable=False)
    currency: Mapped[str] = mapped_column(String(10), nullable=False)
    decimals: Mapped[int] = mapped_column(Integer, nullable=False)
    from_address: Mapped[str] = mapped_column(String(42), nullable=False)
    to_address: Mapped[str] = mapped_column(String(42), nullable=False)
    amount_raw: Mapped[int] = mapped_column(RawAmount, nullable=False)
    # 8-decimal API units, rounded down (in the merchant's favour) when the token has more decimals.
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    session_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    mode: Mapped[str] = mapped_column(String(4), nullable=False)
    # pending (seen, not yet confirmed) → confirmed | orphaned (its block left the chain);
    # confirmed → reorged (its block left the chain after confirmation: reported, no longer counted, see reorgs.py)
    state: Mapped[str] = mapped_column(String(10), nullable=False)
    # payment (counts towards its session) | late | wrong_currency | after_completion (recorded, reported only)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    # When it was first confirmed; kept when a reorg sends it back to pending (see recording.py).
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ChainCursor(Base):
    """How far a chain has been scanned, and which watcher holds it."""

    __tablename__ = "chain_cursors"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    genesis_hash: Mapped[str | None] = mapped_column(String(66))
    last_block: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_block_hash: Mapped[str | None] = mapped_column(String(66))
    last_block_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class WithdrawalAddress(OwnedMixin, Base):
    """Where a merchant is paid on a chain; the default one is used by sessions that name none."""

    __tablename__ = "withdrawal_addresses"
    __table_args__ = (Index("ix_withdrawal_addresses_org_chain", "organization_id", "chain_id"),)

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    chain_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    address: Mapped[str] = mapped_column(String(42), nullable=False)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

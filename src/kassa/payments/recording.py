"""Recording ERC-20 transfers to deposit addresses: once each, classified, whoever saw them first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kassa.chains.contracts import TRANSFER_TOPIC
from kassa.chains.registry import Chain
from kassa.checkout.models import CheckoutSession
from kassa.clock import Clock
from kassa.events.service import emit
from kassa.money import API_DECIMALS
from kassa.payments.models import ChainTransfer, DepositAddress
from kassa.payments.serialize import transfer_dict


@dataclass(frozen=True)
class BlockInfo:
    number: int
    hash: str
    timestamp: datetime


def to_api_amount(raw: int, decimals: int) -> int:
    """Raw token units to 8-decimal API units; with more than 8 decimals, rounded down (the merchant's favour)."""
    if decimals <= API_DECIMALS:  # `<` would be an equivalent mutant: at 8 decimals both branches give raw
        return raw * _pow10(API_DECIMALS - decimals)
    return raw // _pow10(decimals - API_DECIMALS)


def to_raw_amount(amount: int, decimals: int) -> int:
    """8-decimal API units to raw token units, rounded up: the buyer is asked for the next raw unit, never less."""
    if decimals >= API_DECIMALS:  # `>` would be an equivalent mutant: at 8 decimals both branches give amount
        return amount * _pow10(decimals - API_DECIMALS)
    unit = _pow10(API_DECIMALS - decimals)
    return -(-amount // unit)


def _pow10(exponent: int) -> int:
    result: int = 10**exponent  # exponent is never negative here, so this stays an int
    return result


def parse_transfer_log(log: dict[str, Any]) -> tuple[str, str, str, int] | None:
    """(token, from, to, raw amount) of an ERC-20 Transfer log, or None for anything else."""
    topics = log.get("topics") or []
    if len(topics) != 3 or str(topics[0]).lower() != TRANSFER_TOPIC:
        return None
    data = str(log.get("data") or "0x")
    if len(data) != 66:
        return None
    return (
        str(log["address"]).lower(),
        "0x" + str(topics[1])[-40:].lower(),
        "0x" + str(topics[2])[-40:].lower(),
        int(data, 16),
    )


def record_logs(
    db: Session,
    clock: Clock,
    chain: Chain,
    logs: list[dict[str, Any]],
    block_info: Callable[[int], BlockInfo],
) -> list[ChainTransfer]:
    """Store every Transfer in `logs` that pays a Kassa deposit address; returns the transfers new to us."""
    tokens = {a.address.lower(): a for a in chain.assets}
    parsed = []
    for log in logs:
        fields = parse_transfer_log(log)
        if fields is not None and fields[0] in tokens:
            parsed.append((log, fields))
    if not parsed:
        return []
    deposits = {
        d.address: d
        for d in db.scalars(
            select(DepositAddress).where(
                DepositAddress.chain_id == chain.id, DepositAddress.address.in_({f[2] for _, f in parsed})
            )
        )
    }
    recorded = []
    for log, (token, sender, recipient, raw) in parsed:
        deposit = deposits.get(recipient)
        if deposit is None:
            continue
        block = block_info(int(log["blockNumber"], 16) if isinstance(log["blockNumber"], str) else log["blockNumber"])
        transfer = _record_one(
            db,
            clock,
            chain,
            deposit,
            log,
            tokens[token].currency,
            tokens[token].decimals,
            sender,
            recipient,
            token,
            raw,
            block,
        )
        if transfer is not None:
            recorded.append(transfer)
    return recorded


def _record_one(
    db: Session,
    clock: Clock,
    chain: Chain,
    deposit: DepositAddress,
    log: dict[str, Any],
    currency: str,
    decimals: int,
    sender: str,
    recipient: str,
    token: str,
    raw: int,
    block: BlockInfo,
) -> ChainTransfer | None:
    tx_hash = str(log["transactionHash"]).lower()
    log_index = int(log["logIndex"], 16) if isinstance(log["logIndex"], str) else int(log["logIndex"])
    existing = db.scalar(
        select(ChainTransfer).where(
            ChainTransfer.chain_id == chain.id, ChainTransfer.tx_hash == tx_hash, ChainTransfer.log_index == log_index
        )
    )
    now = clock.now()
    if existing is not None:
        if existing.state in ("orphaned", "reorged") or existing.block_hash != block.hash:
            # Re-included in another block after a reorg (or its block is canonical again): the same transfer,
            # back to waiting for confirmations; it is one row, so it is credited once.
            existing.block_number, existing.block_hash, existing.block_timestamp = (
                block.number,
                block.hash,
                block.timestamp,
            )
            # confirmed_at stays: it is when the transfer was first confirmed (and counted), which is how a
            # completed session tells the payment it took from one that came after it.
            existing.state, existing.updated_at = "pending", now
        return None
    session = db.get(CheckoutSession, deposit.session_id)
    assert session is not None
    transfer = ChainTransfer(
        chain_id=chain.id,
        tx_hash=tx_hash,
        log_index=log_index,
        block_number=block.number,
        block_hash=block.hash,
        block_timestamp=block.timestamp,
        token_address=token,
        currency=currency,
        decimals=decimals,
        from_address=sender,
        to_address=recipient,
        amount_raw=raw,
        amount=to_api_amount(raw, decimals),
        session_id=session.id,
        organization_id=session.organization_id,
        mode=session.mode,
        state="pending",
        kind=classify(session, currency, block.timestamp),
        created_at=now,
        updated_at=now,
    )
    try:
        with db.begin_nested():
            db.add(transfer)
    except IntegrityError:
        return None  # another watcher or an auto-recover call recorded it first
    if transfer.kind != "payment":
        _report(db, clock, transfer, deposit)
    return transfer


def classify(session: CheckoutSession, currency: str, included_at: datetime) -> str:
    if currency != session.currency:
        return "wrong_currency"
    if session.status == "complete":
        return "after_completion"
    if session.status == "expired" or included_at > session.expires_at:
        return "late"
    return "payment"


def report_unmatched(db: Session, clock: Clock, transfer: ChainTransfer) -> None:
    """Report a recorded transfer that will not be credited after all (see crediting.py)."""
    deposit = db.scalar(
        select(DepositAddress).where(
            DepositAddress.chain_id == transfer.chain_id, DepositAddress.address == transfer.to_address
        )
    )
    assert deposit is not None  # a transfer is recorded only when it pays a deposit address
    _report(db, clock, transfer, deposit)


def _report(db: Session, clock: Clock, transfer: ChainTransfer, deposit: DepositAddress) -> None:
    """Money that will not be credited is never dropped silently: the merchant hears of it."""
    data = transfer_dict(transfer, deposit, {}) | {"reason": transfer.kind}
    emit(
        db,
        clock,
        organization_id=transfer.organization_id,
        mode=transfer.mode,
        type="payment.unmatched",
        object_type="transaction",
        object_id=transfer.session_id,
        data=data,
    )


def block_info_from(raw: dict[str, Any]) -> BlockInfo:
    return BlockInfo(
        number=int(raw["number"], 16) if isinstance(raw["number"], str) else int(raw["number"]),
        hash=str(raw["hash"]).lower() if str(raw["hash"]).startswith("0x") else "0x" + str(raw["hash"]),
        timestamp=datetime.fromtimestamp(
            int(raw["timestamp"], 16) if isinstance(raw["timestamp"], str) else int(raw["timestamp"]), tz=UTC
        ),
    )

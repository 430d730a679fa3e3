"""What the hosted page needs from payments: how a session can be paid, and how far its payment has got.

This is the seam between the checkout page and the chain code. The chain side (deposit addresses, watcher,
dev chain) fills these in; the page only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from eth_utils.address import to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session

from kassa.api.runtime import Runtime
from kassa.chains.registry import DEV_CHAIN_ID
from kassa.checkout.models import CheckoutSession
from kassa.errors import BadRequest
from kassa.payments.crediting import confirmed_total
from kassa.payments.cursors import chain_heads
from kassa.payments.models import ChainTransfer, DepositAddress
from kassa.payments.recording import to_raw_amount


@dataclass(frozen=True)
class PaymentOption:
    """One way to pay a session: a token on a chain, sent to the session's deposit address there."""

    chain_id: int
    chain_name: str
    currency: str  # "usdc"
    symbol: str  # "USDC"
    token_address: str
    decimals: int
    deposit_address: str
    amount_due: int  # 8-decimal API units still to pay
    amount_due_raw: int  # the token's raw units still to pay (rounded up, never less)
    eip681_uri: str  # ethereum:<token>@<chainId>/transfer?address=<deposit>&uint256=<raw>
    rpc_url: str | None  # for wallet_addEthereumChain; None when the chain has no public RPC to offer
    explorer_tx_url: str  # with {hash}
    preferred: bool = False


@dataclass(frozen=True)
class TransferView:
    tx_hash: str
    chain_id: int
    currency: str
    amount: int  # 8-decimal
    confirmations: int
    required_confirmations: int
    state: Literal["pending", "confirmed", "orphaned", "reorged", "late", "unmatched"]


@dataclass(frozen=True)
class PaymentProgress:
    status: str  # the session's status
    payment_status: str
    amount_total: int
    amount_received: int  # confirmed, 8-decimal
    amount_pending: int  # seen on chain, not yet confirmed
    amount_due: int  # still to pay (0 once covered)
    transfers: list[TransferView] = field(default_factory=list)


def payment_options(db: Session, runtime: Runtime, session: CheckoutSession) -> list[PaymentOption]:
    """The chains and tokens this session can be paid with, preferred chain first."""
    due = _amount_due(db, session)
    preferred = session.payment_setting.get("preferredChainId")
    options = []
    for deposit in db.scalars(select(DepositAddress).where(DepositAddress.session_id == session.id)):
        chain = runtime.chains.get(deposit.chain_id)
        asset = deposit.asset
        raw_due = to_raw_amount(due, int(asset["decimals"]))
        address = to_checksum_address(deposit.address)
        token = to_checksum_address(asset["address"])
        options.append(
            PaymentOption(
                chain_id=deposit.chain_id,
                chain_name=deposit.chain_name,
                currency=asset["currency"],
                symbol=asset["symbol"],
                token_address=token,
                decimals=int(asset["decimals"]),
                deposit_address=address,
                amount_due=due,
                amount_due_raw=raw_due,
                eip681_uri=f"ethereum:{token}@{deposit.chain_id}/transfer?address={address}&uint256={raw_due}",
                rpc_url=chain.rpc_url if chain is not None else None,
                explorer_tx_url=deposit.explorer_tx_url,
                preferred=deposit.chain_id == preferred,
            )
        )
    return sorted(options, key=lambda o: (not o.preferred, o.chain_id))


def _amount_due(db: Session, session: CheckoutSession) -> int:
    return max(session.amount_total - confirmed_total(db, session.id), 0)


def payment_progress(db: Session, runtime: Runtime, session: CheckoutSession) -> PaymentProgress:
    transfers = list(
        db.scalars(
            select(ChainTransfer)
            .where(ChainTransfer.session_id == session.id, ChainTransfer.state != "orphaned")
            .order_by(ChainTransfer.block_number, ChainTransfer.log_index)
        )
    )
    heads = chain_heads(db, {t.chain_id for t in transfers})
    views = []
    for t in transfers:
        chain = runtime.chains.get(t.chain_id)
        required = chain.confirmations if chain is not None else 1
        head = heads.get(t.chain_id, t.block_number)
        state = t.state if t.kind == "payment" else ("late" if t.kind in ("late", "after_completion") else "unmatched")
        views.append(
            TransferView(
                tx_hash=t.tx_hash,
                chain_id=t.chain_id,
                currency=t.currency,
                amount=t.amount,
                confirmations=max(0, head - t.block_number + 1),
                required_confirmations=required,
                state=state,  # type: ignore[arg-type]
            )
        )
    received = confirmed_total(db, session.id)
    pending = sum(t.amount for t in transfers if t.state == "pending" and t.kind == "payment")
    return PaymentProgress(
        status=session.status,
        payment_status=session.payment_status,
        amount_total=session.amount_total,
        amount_received=received,
        amount_pending=pending,
        amount_due=max(session.amount_total - received, 0),
        transfers=views,
    )


def test_wallet_available(runtime: Runtime, session: CheckoutSession) -> bool:
    """True in test mode when the built-in dev chain runs and can pay this session."""
    if session.mode != "test" or runtime.devnet is None:
        return False
    return any(c.get("chainId") == DEV_CHAIN_ID for c in session.payment_setting.get("allowedChains", []))


def pay_with_test_wallet(runtime: Runtime, session: CheckoutSession, option: PaymentOption) -> str:
    """Send the amount due from a prefunded dev-chain account; returns the transaction hash."""
    if not test_wallet_available(runtime, session) or option.chain_id != DEV_CHAIN_ID:
        raise BadRequest("The test wallet pays test-mode sessions on the dev chain only")
    assert runtime.devnet is not None
    if option.amount_due_raw <= 0:
        raise BadRequest("Nothing is left to pay")
    buyer = runtime.devnet.accounts[TEST_WALLET_ACCOUNT]
    return runtime.devnet.transfer(option.token_address, buyer, option.deposit_address, option.amount_due_raw)


# Account #1 of the dev mnemonic plays the buyer (#0 deploys, #9 is the default merchant wallet).
TEST_WALLET_ACCOUNT = 1


def payment_seen(db: Session, session: CheckoutSession) -> bool:
    """Whether money for the session is confirmed or on its way: one indexed EXISTS, for hot page paths."""
    if session.amount_received > 0:
        return True
    found = db.scalar(
        select(ChainTransfer.id)
        .where(
            ChainTransfer.session_id == session.id,
            ChainTransfer.kind == "payment",
            ChainTransfer.state.in_(("pending", "confirmed")),
        )
        .limit(1)
    )
    return found is not None

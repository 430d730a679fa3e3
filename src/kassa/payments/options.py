"""What the hosted page needs from payments: how a session can be paid, and how far its payment has got.

This is the seam between the checkout page and the chain code. The chain side (deposit addresses, watcher,
dev chain) fills these in; the page only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.orm import Session

from kassa.api.runtime import Runtime
from kassa.checkout.models import CheckoutSession


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
    state: Literal["pending", "confirmed", "orphaned", "late", "unmatched"]


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
    return []


def payment_progress(db: Session, runtime: Runtime, session: CheckoutSession) -> PaymentProgress:
    return PaymentProgress(
        status=session.status,
        payment_status=session.payment_status,
        amount_total=session.amount_total,
        amount_received=session.amount_received,
        amount_pending=0,
        amount_due=max(session.amount_total - session.amount_received, 0),
    )


def test_wallet_available(runtime: Runtime, session: CheckoutSession) -> bool:
    """True in test mode when the built-in dev chain runs and can pay this session."""
    return False


def pay_with_test_wallet(runtime: Runtime, session: CheckoutSession, option: PaymentOption) -> str:
    """Send the amount due from a prefunded dev-chain account; returns the transaction hash."""
    raise NotImplementedError("the dev chain is not wired yet")

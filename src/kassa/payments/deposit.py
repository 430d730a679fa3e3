"""Giving a session its deposit addresses, one per allowed chain that Kassa can watch and pay out on."""

from __future__ import annotations

from typing import Any

from eth_utils.address import to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session

from kassa.chains.addresses import Split, deposit_address, session_salt
from kassa.chains.registry import DEV_CHAIN_ID, ChainRegistry
from kassa.checkout.models import CheckoutSession
from kassa.clock import Clock
from kassa.payments.models import DepositAddress, WithdrawalAddress

# Account #9 of the dev mnemonic: where a new organization's test payments on the dev chain land.
DEV_MERCHANT_WALLET = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"


def splits_for(db: Session, session: CheckoutSession, entry: dict[str, Any]) -> list[Split] | None:
    """The session's own withdrawal address(es) for the chain, else the organization's default, else none."""
    if entry.get("withdrawalAddresses"):
        return [Split(s["address"], int(s["splitPercentage"])) for s in entry["withdrawalAddresses"]]
    if entry.get("withdrawalAddress"):
        return [Split(entry["withdrawalAddress"], 100)]
    default = db.scalar(
        select(WithdrawalAddress.address)
        .where(
            WithdrawalAddress.organization_id == session.organization_id,
            WithdrawalAddress.mode == session.mode,
            WithdrawalAddress.chain_id == entry["chainId"],
        )
        .order_by(WithdrawalAddress.is_default.desc(), WithdrawalAddress.created_at)
        .limit(1)
    )
    if default is not None:
        return [Split(default, 100)]
    return None


def assign_addresses(
    db: Session, clock: Clock, chains: ChainRegistry, session: CheckoutSession
) -> list[DepositAddress]:
    rows = []
    now = clock.now()
    for entry in session.payment_setting.get("allowedChains", []):
        chain = chains.get(int(entry["chainId"]))
        if chain is None or not chain.enabled or chain.factory_address is None:
            continue  # Kassa cannot watch or settle there
        if session.currency in entry.get("blacklistCurrencies", []) or chain.asset(session.currency) is None:
            continue
        splits = splits_for(db, session, entry)
        if splits is None:
            continue  # no withdrawal address: the chain is not offered
        address = deposit_address(chain.factory_address, session.id, splits)
        asset = chain.asset(session.currency)
        assert asset is not None
        row = DepositAddress(
            session_id=session.id,
            organization_id=session.organization_id,
            mode=session.mode,
            chain_id=chain.id,
            address=address.lower(),
            factory_address=to_checksum_address(chain.factory_address),
            salt="0x" + session_salt(session.id).hex(),
            recipients=[{"address": to_checksum_address(s.address), "percentage": s.percentage} for s in splits],
            asset={
                "currency": asset.currency,
                "address": to_checksum_address(asset.address),
                "decimals": asset.decimals,
                "symbol": asset.symbol,
                "name": asset.name,
            },
            chain_name=chain.name,
            explorer_name=chain.explorer_name,
            explorer_tx_url=chain.explorer_tx_url,
            created_at=now,
        )
        db.add(row)
        rows.append(row)
    db.flush()
    return rows


def default_dev_wallet(db: Session, clock: Clock, organization_id: Any) -> None:
    """A new organization can take test payments on the dev chain at once, into a known dev account."""
    now = clock.now()
    db.add(
        WithdrawalAddress(
            organization_id=organization_id,
            mode="test",
            created_at=now,
            updated_at=now,
            name="Dev chain wallet (account #9 of the dev mnemonic)",
            chain_id=DEV_CHAIN_ID,
            address=DEV_MERCHANT_WALLET,
            is_default=True,
        )
    )

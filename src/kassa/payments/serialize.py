"""Deposit addresses, assets, chains and transfers in the contract's shapes."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from eth_utils.address import to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session

from kassa.api.types import format_timestamp
from kassa.chains.registry import Asset, Chain
from kassa.payments.models import ChainTransfer, DepositAddress

_ASSET_NAMESPACE = uuid.UUID("6f1d3c1e-5b8a-4f5e-9c53-6b6173736141")


def asset_id(chain_id: int, token_address: str) -> str:
    """A stable UUID for a token on a chain (the contract wants string ids; ours never change)."""
    return str(uuid.uuid5(_ASSET_NAMESPACE, f"{chain_id}:{token_address.lower()}"))


def chain_slim(chain_id: int, name: str, native: str, explorer_name: str, explorer_tx_url: str) -> dict[str, Any]:
    return {
        "id": chain_id,
        "name": name,
        "icon": "",
        "currency": native,
        "blockExplorerTransactionUrl": explorer_tx_url.replace("{hash}", ""),
        "blockExplorerName": explorer_name,
        "type": "evm",
        "isBeta": False,
    }


def asset_dict(chain_id: int, asset: dict[str, Any], chain: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {
        "id": asset_id(chain_id, asset["address"]),
        "name": asset["name"],
        "chainId": chain_id,
        "address": asset["address"],
        "currency": asset["currency"],
        "symbol": asset["symbol"],
        "decimals": asset["decimals"],
        "isPublic": True,
        "isEIP5827Supported": False,
    }
    if chain is not None:
        out["chain"] = chain
    return out


def registry_asset(chain: Chain, asset: Asset) -> dict[str, Any]:
    fields = {
        "address": asset.address,
        "name": asset.name,
        "currency": asset.currency,
        "symbol": asset.symbol,
        "decimals": asset.decimals,
    }
    return asset_dict(
        chain.id,
        fields,
        chain_slim(chain.id, chain.name, chain.native_currency, chain.explorer_name, chain.explorer_tx_url),
    )


def chain_dict(chain: Chain) -> dict[str, Any]:
    out = chain_slim(chain.id, chain.name, chain.native_currency, chain.explorer_name, chain.explorer_tx_url)
    out.update(
        {
            "object": "chain",
            "assets": [registry_asset(chain, a) for a in chain.assets],
            "isTestnet": chain.testnet,
            "isEIP1559Supported": True,
            "hasMonitoring": chain.enabled,
            "isPublic": True,
            "confirmations": chain.confirmations,
            "enabled": chain.enabled,
        }
    )
    return out


def _deposit_chain(chain_id: int, deposit: DepositAddress | None) -> dict[str, Any]:
    if deposit is None:
        return chain_slim(chain_id, str(chain_id), "eth", "", "")
    return chain_slim(chain_id, deposit.chain_name, "eth", deposit.explorer_name, deposit.explorer_tx_url)


def address_dict(row: DepositAddress) -> dict[str, Any]:
    chain = chain_slim(row.chain_id, row.chain_name, "eth", row.explorer_name, row.explorer_tx_url)
    return {
        "id": str(row.id),
        "createdAt": format_timestamp(row.created_at),
        "updatedAt": format_timestamp(row.created_at),
        "checkoutSessionId": str(row.session_id),
        "asset": asset_dict(row.chain_id, row.asset, chain),
        "paymentAddress": _checksum(row.address),
        "recipients": row.recipients,
    }


def transfer_dict(
    transfer: ChainTransfer, deposit: DepositAddress | None, head_by_chain: dict[int, int]
) -> dict[str, Any]:
    asset_fields = {
        "address": transfer.token_address,
        "name": (
            deposit.asset["name"]
            if deposit and deposit.asset["currency"] == transfer.currency
            else transfer.currency.upper()
        ),
        "currency": transfer.currency,
        "symbol": transfer.currency.upper(),
        "decimals": transfer.decimals,
    }
    explorer = deposit.explorer_tx_url if deposit else ""
    head = head_by_chain.get(transfer.chain_id)
    return {
        "id": str(transfer.id),
        "object": "transaction",
        "type": "incoming",
        "transactionHash": transfer.tx_hash,
        "fromAddress": _checksum(transfer.from_address),
        "toAddress": _checksum(transfer.to_address),
        "currency": transfer.currency,
        "createdAt": format_timestamp(transfer.created_at),
        "amount": str(transfer.amount),
        "amountRaw": str(transfer.amount_raw),
        "assetId": asset_id(transfer.chain_id, transfer.token_address),
        "asset": asset_dict(transfer.chain_id, asset_fields, _deposit_chain(transfer.chain_id, deposit)),
        "transactionUrl": explorer.replace("{hash}", transfer.tx_hash) if explorer else None,
        "chainId": transfer.chain_id,
        "blockNumber": transfer.block_number,
        "blockTimestamp": format_timestamp(transfer.block_timestamp),
        "status": transfer.state,
        "kind": transfer.kind,
        "confirmations": max(0, head - transfer.block_number + 1) if head is not None else None,
        "checkoutSessionId": str(transfer.session_id),
    }


def load_for_sessions(
    db: Session, session_ids: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, list[DepositAddress]], dict[uuid.UUID, list[ChainTransfer]]]:
    addresses: dict[uuid.UUID, list[DepositAddress]] = defaultdict(list)
    transfers: dict[uuid.UUID, list[ChainTransfer]] = defaultdict(list)
    if not session_ids:
        return addresses, transfers
    for row in db.scalars(
        select(DepositAddress).where(DepositAddress.session_id.in_(session_ids)).order_by(DepositAddress.chain_id)
    ):
        addresses[row.session_id].append(row)
    for transfer in db.scalars(
        select(ChainTransfer)
        .where(ChainTransfer.session_id.in_(session_ids))
        .order_by(ChainTransfer.block_number, ChainTransfer.log_index)
    ):
        transfers[transfer.session_id].append(transfer)
    return addresses, transfers


def _checksum(address: str) -> str:
    return to_checksum_address(address)

"""Counterfactual deposit addresses: one CREATE2 forwarder per session and chain, paying only the merchant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from kassa.chains.contracts import create2_address, forwarder_init_code


@dataclass(frozen=True)
class Split:
    address: str
    percentage: int


def session_salt(session_id: uuid.UUID) -> bytes:
    """32 bytes unique to the session (its id is unique; hashing spreads it over the word)."""
    return keccak(b"kassa:checkout-session:" + session_id.bytes)


def deposit_address(factory: str, session_id: uuid.UUID, splits: list[Split]) -> str:
    recipients = [to_checksum_address(s.address) for s in splits]
    return create2_address(
        to_checksum_address(factory),
        session_salt(session_id),
        forwarder_init_code(recipients, [s.percentage for s in splits]),
    )

"""The compiled Kassa contracts (built offline by contracts/build.js) and the ABI helpers around them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

BUILD_DIR = Path(__file__).parent / "contracts" / "build"
# keccak256("Transfer(address,address,uint256)")
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes

    def deploy_data(self, types: list[str], args: list[Any]) -> bytes:
        return self.bytecode + encode(types, args)


@cache
def artifact(name: str) -> Artifact:
    raw = json.loads((BUILD_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return Artifact(name=name, abi=raw["abi"], bytecode=bytes.fromhex(raw["bytecode"][2:]))


def forwarder_init_code(recipients: Sequence[str], percentages: Sequence[int]) -> bytes:
    return artifact("KassaForwarder").deploy_data(
        ["address[]", "uint256[]"], [[to_checksum_address(r) for r in recipients], list(percentages)]
    )


def create2_address(factory: str, salt: bytes, init_code: bytes) -> str:
    """EIP-1014: keccak256(0xff ++ factory ++ salt ++ keccak256(init_code))[12:]."""
    if len(salt) != 32:
        raise ValueError("salt must be 32 bytes")
    digest = keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + keccak(init_code))
    return to_checksum_address(digest[12:])


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def call_data(signature: str, types: list[str], args: list[Any]) -> bytes:
    return selector(signature) + encode(types, args)

"""JSON-RPC to EVM nodes: web3.py's HTTP provider for real nodes, a direct call for the in-process dev chain."""

from __future__ import annotations

from typing import Any, Protocol

from web3 import HTTPProvider
from web3.types import RPCEndpoint

from kassa.chains.devnet import DevChain, RpcError
from kassa.recursion import restore_recursion_limit

restore_recursion_limit()  # the Ethereum libraries above raise it past what the C stack holds

RPC_TIMEOUT_SECONDS = 10


class Rpc(Protocol):
    def call(self, method: str, params: list[Any]) -> Any: ...


class HttpRpc:
    def __init__(self, url: str) -> None:
        self.url = url
        # Raw make_request: the watcher wants JSON-RPC values as the node sends them, not web3's formatting.
        self.provider = HTTPProvider(
            url, request_kwargs={"timeout": RPC_TIMEOUT_SECONDS}, exception_retry_configuration=None
        )

    def call(self, method: str, params: list[Any]) -> Any:
        try:
            response = self.provider.make_request(RPCEndpoint(method), params)
        except Exception as exc:  # transport errors of any kind: the caller backs off and retries
            raise RpcError(-32603, f"{type(exc).__name__}: {exc}") from exc
        if "error" in response:
            error = response["error"]
            message = error.get("message", "error") if isinstance(error, dict) else str(error)
            code = error.get("code", -32000) if isinstance(error, dict) else -32000
            raise RpcError(int(code), str(message))
        return response.get("result")


class DevChainRpc:
    def __init__(self, devchain: DevChain) -> None:
        self.devchain = devchain

    def call(self, method: str, params: list[Any]) -> Any:
        return self.devchain.rpc(method, params)


def to_int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)

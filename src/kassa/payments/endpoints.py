"""Chains, assets, transactions, withdrawal addresses, payment settings, auto-recover and the dev chain."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import Field, StringConstraints, ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from kassa.api.pagination import paginate, paginate_items, parse_filters, parse_page_query
from kassa.api.routing import ApiRoute, Caller, Db, Now, parse_id
from kassa.api.runtime import Runtime
from kassa.api.schemas import ApiModel, SuccessOut, respond
from kassa.api.types import format_timestamp
from kassa.chains.devnet import MAX_BATCH, DevChain, RpcError
from kassa.chains.registry import Chain
from kassa.checkout.models import CheckoutSession
from kassa.checkout.schemas import EvmAddress
from kassa.checkout.serialize import session_dict
from kassa.checkout.service.complete import complete_session
from kassa.checkout.service.queries import get_session
from kassa.checkout.state import InvalidTransition, Status, Transition
from kassa.errors import BadRequest, NotFound, error_response, validation_messages
from kassa.payments import recover
from kassa.payments.models import ChainTransfer, DepositAddress, WithdrawalAddress
from kassa.payments.serialize import chain_dict, registry_asset, transfer_dict
from kassa.payments.services import rpc_for
from kassa.ratelimit import retry_after_header

api = APIRouter(route_class=ApiRoute)
devnet = APIRouter(tags=["Dev chain"])


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _chain_for(request: Request, caller: Any, chain_id: int) -> Chain:
    chain = _runtime(request).chains.get(chain_id)
    if chain is None or chain.testnet != (caller.mode == "test"):
        raise BadRequest(f"chainId: unknown chain {chain_id} for a {caller.mode}-mode key")
    if not chain.enabled:
        raise BadRequest(f"chainId: chain {chain_id} is not enabled on this Kassa server")
    return chain


def _listing(request: Request, items: list[dict[str, Any]]) -> dict[str, Any]:
    return paginate_items(parse_page_query(request.query_params), items)


# --- chains and assets ----------------------------------------------------------------------------------


@api.get("/api/v1/chains", tags=["Chains"], summary="Chains usable with the caller's mode")
def list_chains(request: Request, caller: Caller) -> Response:
    chains = _runtime(request).chains.for_mode(caller.mode, enabled_only=False)
    return respond(_listing(request, [chain_dict(c) for c in sorted(chains, key=lambda c: c.id)]))


@api.get("/api/v1/chains/{chain_id}", tags=["Chains"], summary="A chain")
def get_chain(chain_id: str, request: Request, caller: Caller) -> Response:
    chain = _runtime(request).chains.get(int(chain_id)) if chain_id.isdigit() else None
    if chain is None or chain.testnet != (caller.mode == "test"):
        raise NotFound(f"Chain {chain_id[:20]} not found")
    return respond(chain_dict(chain))


def _assets(request: Request, mode: str) -> list[dict[str, Any]]:
    chains = sorted(_runtime(request).chains.for_mode(mode, enabled_only=False), key=lambda c: c.id)
    return [registry_asset(c, a) for c in chains for a in c.assets]


@api.get("/api/v1/assets", tags=["Assets"], summary="Tokens Kassa accepts on the caller's chains")
def list_assets(request: Request, caller: Caller) -> Response:
    return respond(_listing(request, _assets(request, caller.mode)))


@api.get("/api/v1/assets/{asset_id}", tags=["Assets"], summary="An asset")
def get_asset(asset_id: str, request: Request, caller: Caller) -> Response:
    for asset in _assets(request, caller.mode):
        if asset["id"] == asset_id:
            return respond(asset)
    raise NotFound(f"Asset {asset_id[:60]} not found")


# --- withdrawal addresses and payment settings ----------------------------------------------------------


class WithdrawalAddressIn(ApiModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    address: EvmAddress
    chain_id: Annotated[int, Field(ge=1)]


class WithdrawalAddressUpdate(ApiModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    address: EvmAddress


def _withdrawal_out(row: WithdrawalAddress) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "object": "withdrawal_address",
        "name": row.name,
        "address": row.address,
        "chainId": row.chain_id,
        "isDefault": row.is_default,
        "createdAt": format_timestamp(row.created_at),
        "updatedAt": format_timestamp(row.updated_at),
    }


def _withdrawal(db: Any, caller: Any, raw_id: str) -> WithdrawalAddress:
    row: WithdrawalAddress | None = db.scalar(
        select(WithdrawalAddress).where(
            WithdrawalAddress.id == parse_id(raw_id, "Withdrawal address"),
            WithdrawalAddress.organization_id == caller.organization_id,
            WithdrawalAddress.mode == caller.mode,
        )
    )
    if row is None:
        raise NotFound(f"Withdrawal address {raw_id[:60]} not found")
    return row


def _addresses(db: Any, caller: Any) -> list[WithdrawalAddress]:
    return list(
        db.scalars(
            select(WithdrawalAddress)
            .where(WithdrawalAddress.organization_id == caller.organization_id, WithdrawalAddress.mode == caller.mode)
            .order_by(WithdrawalAddress.chain_id, WithdrawalAddress.created_at)
        )
    )


@api.get("/api/v1/organization/withdrawal-addresses", tags=["Organization"], summary="Withdrawal addresses")
def list_withdrawal_addresses(db: Db, caller: Caller) -> Response:
    return Response(json.dumps([_withdrawal_out(r) for r in _addresses(db, caller)]), media_type="application/json")


@api.post("/api/v1/organization/withdrawal-addresses", tags=["Organization"], summary="Add a withdrawal address")
def create_withdrawal_address(
    body: WithdrawalAddressIn, request: Request, db: Db, caller: Caller, clock: Now
) -> Response:
    chain = _runtime(request).chains.get(body.chain_id)
    if chain is None or chain.testnet != (caller.mode == "test"):
        raise BadRequest(f"chainId: unknown chain {body.chain_id} for a {caller.mode}-mode key")
    now = clock.now()
    first = not any(r.chain_id == body.chain_id for r in _addresses(db, caller))
    row = WithdrawalAddress(
        **caller.stamp(now),
        name=body.name,
        address=body.address,
        chain_id=body.chain_id,
        is_default=first,
    )
    db.add(row)
    db.flush()
    return respond(_withdrawal_out(row))


@api.get(
    "/api/v1/organization/withdrawal-addresses/{address_id}", tags=["Organization"], summary="A withdrawal address"
)
def get_withdrawal_address(address_id: str, db: Db, caller: Caller) -> Response:
    return respond(_withdrawal_out(_withdrawal(db, caller, address_id)))


@api.put("/api/v1/organization/withdrawal-addresses/{address_id}", tags=["Organization"], summary="Update one")
def update_withdrawal_address(
    address_id: str, body: WithdrawalAddressUpdate, db: Db, caller: Caller, clock: Now
) -> Response:
    row = _withdrawal(db, caller, address_id)
    row.name, row.address, row.updated_at = body.name, body.address, clock.now()
    db.flush()
    return respond(_withdrawal_out(row))


@api.delete("/api/v1/organization/withdrawal-addresses/{address_id}", tags=["Organization"], summary="Remove one")
def delete_withdrawal_address(address_id: str, db: Db, caller: Caller) -> Response:
    db.delete(_withdrawal(db, caller, address_id))
    db.flush()
    return respond(SuccessOut(message="Withdrawal address deleted", status_code=200))


@api.post(
    "/api/v1/organization/withdrawal-addresses/{address_id}/mark-as-default",
    tags=["Organization"],
    summary="Make it the chain's default",
)
def mark_default(address_id: str, db: Db, caller: Caller, clock: Now) -> Response:
    row = _withdrawal(db, caller, address_id)
    for other in _addresses(db, caller):
        if other.chain_id == row.chain_id:
            other.is_default = other.id == row.id
            other.updated_at = clock.now()
    db.flush()
    return respond(SuccessOut(message="Withdrawal address marked as default", status_code=200))


@api.get("/api/v1/organization/payment-setting", tags=["Organization"], summary="Default payment settings")
def payment_setting(request: Request, db: Db, caller: Caller, clock: Now) -> Response:
    defaults: dict[int, str] = {}
    for row in _addresses(db, caller):
        if row.is_default or row.chain_id not in defaults:
            defaults[row.chain_id] = row.address
    chains = [c for c in _runtime(request).chains.for_mode(caller.mode) if c.factory_address and c.id in defaults]
    now = format_timestamp(clock.now())
    return respond(
        {
            "id": str(caller.organization_id),
            "createdAt": now,
            "updatedAt": now,
            "paymentMethodTypes": ["wallet"],
            "allowedChains": [{"chainId": c.id, "withdrawalAddress": defaults[c.id]} for c in chains],
            "allowedCurrencies": sorted({a.currency for c in chains for a in c.assets}),
            "preferredChainId": chains[0].id if chains else None,
            "allowSwap": False,
            "applyFee": False,
            "feePercentage": 0,
            "applyGasFee": False,
            "allowSplitPayments": True,
        }
    )


# --- transactions, recovery, partial acceptance ---------------------------------------------------------


MAX_CHAIN_ID = 2**63 - 1  # the BIGINT chain_id column; larger filters are a 400, not an overflow


class TransactionFilters(ApiModel):
    payment_intent_id: uuid.UUID | None = None
    checkout_session_id: uuid.UUID | None = None
    type: str | None = None
    chain_id: Annotated[int, Field(ge=1, le=MAX_CHAIN_ID)] | None = None


@api.get("/api/v1/transactions", tags=["Transactions"], summary="Incoming transfers to deposit addresses")
def list_transactions(request: Request, db: Db, caller: Caller) -> Response:
    query = parse_page_query(request.query_params)
    filters = parse_filters(request.query_params, TransactionFilters)
    stmt = select(ChainTransfer).where(
        ChainTransfer.organization_id == caller.organization_id, ChainTransfer.mode == caller.mode
    )
    if filters.type not in (None, "incoming"):
        stmt = stmt.where(ChainTransfer.id.is_(None))  # Kassa records incoming transfers only
    if filters.chain_id is not None:
        stmt = stmt.where(ChainTransfer.chain_id == filters.chain_id)
    if filters.checkout_session_id is not None:
        stmt = stmt.where(ChainTransfer.session_id == filters.checkout_session_id)
    if filters.payment_intent_id is not None:
        stmt = stmt.where(
            ChainTransfer.session_id.in_(
                select(CheckoutSession.id).where(CheckoutSession.payment_intent_id == filters.payment_intent_id)
            )
        )
    page = paginate(
        db, stmt, ChainTransfer, query, lambda t: t, filters.model_dump(mode="json", by_alias=True, exclude_none=True)
    )
    transfers: list[ChainTransfer] = page["data"]
    deposits = {
        (d.chain_id, d.address): d
        for d in db.scalars(
            select(DepositAddress).where(DepositAddress.session_id.in_({t.session_id for t in transfers}))
        )
    }
    page["data"] = [transfer_dict(t, deposits.get((t.chain_id, t.to_address)), {}) for t in transfers]
    return respond(page)


class RecoverIn(ApiModel):
    chain_id: Annotated[int, Field(ge=1)]
    transaction_hash: Annotated[str, StringConstraints(strip_whitespace=True, min_length=66, max_length=66)]


@api.post(
    "/api/v1/checkout/sessions/{session_id}/auto-recover",
    tags=["Checkout sessions"],
    summary="Re-check one transaction for this session",
)
def auto_recover(session_id: str, body: RecoverIn, request: Request, db: Db, caller: Caller, clock: Now) -> Response:
    runtime = _runtime(request)
    chain = _chain_for(request, caller, body.chain_id)
    view = recover.fetch(chain, rpc_for(runtime, chain), body.transaction_hash)
    session = get_session(db, caller, parse_id(session_id, "Checkout session"))
    transfers = [
        t for t in recover.recover(db, clock, runtime.settings.public_url, chain, view) if t.session_id == session.id
    ]
    if not transfers:
        raise BadRequest("transactionHash: the transaction pays no deposit address of this checkout session")
    pending = [t for t in transfers if t.state == "pending"]
    message = (
        f"Payment recorded; waiting for {chain.confirmations} confirmations"
        if pending
        else "Checkout session recovered"
    )
    return respond(SuccessOut(message=message, status_code=200))


@api.post(
    "/api/v1/checkout/sessions/auto-recover-by-transaction-hash",
    tags=["Checkout sessions"],
    summary="Find and re-check the session a transaction paid",
)
def auto_recover_by_hash(body: RecoverIn, request: Request, db: Db, caller: Caller, clock: Now) -> Response:
    runtime = _runtime(request)
    chain = _chain_for(request, caller, body.chain_id)
    view = recover.fetch(chain, rpc_for(runtime, chain), body.transaction_hash)
    transfers = recover.recover(db, clock, runtime.settings.public_url, chain, view)
    mine = [t for t in transfers if t.organization_id == caller.organization_id and t.mode == caller.mode]
    if not mine:
        raise BadRequest("transactionHash: the transaction pays no deposit address of your checkout sessions")
    session = get_session(db, caller, mine[0].session_id)
    return respond(session_dict(db, runtime.settings.public_url, session))


@api.post(
    "/api/v1/checkout/sessions/{session_id}/complete-partial-checkout-session",
    tags=["Checkout sessions"],
    summary="Accept a part-paid session as complete",
)
def complete_partial(session_id: str, request: Request, db: Db, caller: Caller, clock: Now) -> Response:
    public_url = _runtime(request).settings.public_url
    session = get_session(db, caller, parse_id(session_id, "Checkout session"))
    if session.status != Status.INCOMPLETE:
        raise InvalidTransition(Status(session.status), Transition.ACCEPT_PARTIAL)
    if not complete_session(db, clock, session.id, public_url=public_url, transition=Transition.ACCEPT_PARTIAL):
        db.refresh(session)
        raise InvalidTransition(Status(session.status), Transition.ACCEPT_PARTIAL)
    db.refresh(session)
    return respond(session_dict(db, public_url, session))


# --- the dev chain --------------------------------------------------------------------------------------


class FundIn(ApiModel):
    address: EvmAddress
    amount: Annotated[int, Field(ge=1, le=1_000_000)]
    currency: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern="^(eth|usdc|usdt)$")]


def _devnet(request: Request) -> DevChain:
    devnet_chain = _runtime(request).devnet
    if devnet_chain is None:
        raise NotFound("The dev chain is not running on this server (start it with `kassa serve --devnet`)")
    return devnet_chain


def _fund(request: Request, body: FundIn) -> dict[str, object]:
    tx = _devnet(request).fund(body.address, body.amount, body.currency)
    return {"transactionHash": tx, "address": body.address, "currency": body.currency, "amount": str(body.amount)}


@api.post("/api/v1/devnet/fund", tags=["Dev chain"], summary="Faucet: test ETH, USDC or USDT on the dev chain")
def fund_api(body: FundIn, request: Request, caller: Caller) -> Response:
    if caller.mode != "test":
        raise BadRequest("The dev chain faucet takes test-mode keys only")
    return respond(_fund(request, body))


@devnet.post("/devnet/fund", summary="Faucet for the dev chain (no key: the tokens are worthless; rate-limited)")
async def fund_open(request: Request) -> Response:
    devnet_chain = _devnet(request)
    try:
        payload = await request.json()
    except ValueError:
        raise BadRequest("body: is not valid JSON") from None
    if not isinstance(payload, dict):
        raise BadRequest("body: must be a JSON object")
    try:
        body = FundIn.model_validate(payload)
    except ValidationError as exc:  # field errors in the shape every other endpoint gives them
        raise BadRequest(validation_messages(exc.errors())) from exc
    # A turn is taken by valid requests only: a typo costs the caller nothing, and only funding touches the chain.
    if wait := devnet_chain.faucet_limit.take(request.client.host if request.client else ""):
        return error_response(
            429,
            "Too many faucet requests from this address: retry after the Retry-After seconds",
            headers={"Retry-After": retry_after_header(wait)},
        )
    return JSONResponse(await run_in_threadpool(_fund, request, body))


@devnet.post("/devnet/rpc", summary="Ethereum JSON-RPC for the dev chain: what wallets need (docs/payments.md)")
async def rpc(request: Request) -> Response:
    devnet_chain = _devnet(request)
    try:
        payload = json.loads(await request.body())  # the body guard middleware has checked its size and depth
    except ValueError:
        return _rpc_reply(_rpc_error(None, -32700, "Parse error"))
    if not isinstance(payload, list):
        return _rpc_reply(await run_in_threadpool(_answer, devnet_chain, payload))
    if not 1 <= len(payload) <= MAX_BATCH:
        return _rpc_reply(_rpc_error(None, -32600, f"Invalid request: a batch holds 1 to {MAX_BATCH} calls"))
    return _rpc_reply([await run_in_threadpool(_answer, devnet_chain, call) for call in payload])


def _rpc_reply(content: Any) -> Response:
    return JSONResponse(content, headers={"Access-Control-Allow-Origin": "*"})


def _rpc_error(call_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": call_id, "error": {"code": code, "message": message}}


@devnet.options("/devnet/rpc", include_in_schema=False)
async def rpc_preflight(request: Request) -> Response:
    _devnet(request)
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "content-type",
        },
    )


def _answer(devnet_chain: DevChain, call: Any) -> dict[str, Any]:
    call_id = call.get("id") if isinstance(call, dict) else None
    if not isinstance(call, dict) or not isinstance(call.get("method"), str):
        return _rpc_error(call_id, -32600, "Invalid request")
    params = call.get("params")
    params = [] if params is None else params
    if not isinstance(params, list):
        return _rpc_error(call_id, -32602, "Invalid params: params must be an array")
    try:
        result = devnet_chain.serve(call["method"], params)
    except RpcError as exc:
        return _rpc_error(call_id, exc.code, exc.message)
    except Exception as exc:  # bad parameters: a JSON-RPC error, not a 500
        return _rpc_error(call_id, -32602, f"{type(exc).__name__}: {exc}"[:500])
    return {"jsonrpc": "2.0", "id": call_id, "result": result}

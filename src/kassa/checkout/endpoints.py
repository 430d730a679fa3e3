from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Generator
from datetime import datetime

import anyio
from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from kassa.api.pagination import parse_date_filter, parse_filters, parse_ids, parse_page_query, parse_timestamp
from kassa.api.routing import ApiRoute, AppSettings, Caller, Db, Now, parse_id
from kassa.api.runtime import Runtime
from kassa.api.schemas import respond
from kassa.auth.keys import Principal
from kassa.checkout.schemas import SessionCreate, SessionFilters
from kassa.checkout.serialize import session_dict
from kassa.checkout.service import expire, queries
from kassa.checkout.service.create import create_session
from kassa.db.engine import Database
from kassa.errors import BadRequest

router = APIRouter(prefix="/api/v1/checkout/sessions", tags=["Checkout sessions"], route_class=ApiRoute)


@router.post("", summary="Create a checkout session")
def create(body: SessionCreate, request: Request, db: Db, caller: Caller, clock: Now) -> Response:
    runtime: Runtime = request.app.state.runtime
    session = create_session(db, clock, caller, runtime.chains, body)
    return respond(session_dict(db, runtime.settings.public_url, session))


@router.get("", summary="List checkout sessions")
def list_sessions(request: Request, db: Db, caller: Caller, settings: AppSettings) -> Response:
    query = parse_page_query(request.query_params)
    filters = parse_filters(request.query_params, SessionFilters)
    return respond(queries.list_sessions(db, caller, settings.public_url, query, filters))


@router.get("/export", summary="Export checkout sessions as CSV")
def export(request: Request, caller: Caller) -> Response:
    filters = parse_filters(request.query_params, SessionFilters)
    errors: list[str] = []
    created = parse_date_filter(request.query_params, "createdAt", errors)
    # `from` and `to` (ours) narrow the window like createdAt[gte] and createdAt[lt]; both apply if both are given.
    for name, op, narrower in (("from", "gte", max), ("to", "lt", min)):
        raw = request.query_params.get(name)
        if raw and (moment := parse_timestamp(raw, name, errors)) is not None:
            created[op] = narrower(created[op], moment) if op in created else moment
    ids = parse_ids(request.query_params, errors)
    if errors:
        raise BadRequest(errors)
    runtime: Runtime = request.app.state.runtime
    rows = _export_stream(runtime.db, caller, filters, created, ids)
    header = next(rows)  # opens the transaction and starts the query here: a failure to do so is still a 500
    return StreamingResponse(
        _in_worker_threads(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="checkout-sessions.csv"'},
    )


@router.get("/{session_id}", summary="Retrieve a checkout session")
def retrieve(session_id: str, db: Db, caller: Caller, settings: AppSettings) -> Response:
    session = queries.get_session(db, caller, parse_id(session_id, "Checkout session"))
    return respond(session_dict(db, settings.public_url, session))


@router.get("/{session_id}/completed_webhook_delivered", summary="Has the session completed?")
def completed_webhook_delivered(session_id: str, db: Db, caller: Caller) -> Response:
    return respond(queries.completed_status(db, caller, parse_id(session_id, "Checkout session")))


@router.post("/{session_id}/expire", summary="Expire an open checkout session now")
def expire_session(session_id: str, db: Db, caller: Caller, clock: Now, settings: AppSettings) -> Response:
    session = expire.expire_now(db, clock, caller, parse_id(session_id, "Checkout session"), settings.public_url)
    return respond(session_dict(db, settings.public_url, session))


def _export_stream(
    database: Database, caller: Principal, filters: SessionFilters, created: dict[str, datetime], ids: list[uuid.UUID]
) -> Generator[bytes]:
    """The export in its own read transaction: the request's session has ended before the body streams."""
    with database.read_sessions() as db, db.begin():
        for chunk in queries.export_rows(db, caller, filters, created, ids):
            yield chunk.encode()


async def _in_worker_threads(first: bytes, chunks: Generator[bytes]) -> AsyncGenerator[bytes]:
    """`first`, then each chunk produced in a worker thread (they block on the database), and the generator closed
    there too, however the response ends (a client gone mid-stream included), so its transaction always ends."""
    try:
        yield first
        while (chunk := await anyio.to_thread.run_sync(next, chunks, None)) is not None:
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(chunks.close)

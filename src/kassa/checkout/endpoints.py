from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from kassa.api.pagination import parse_date_filter, parse_filters, parse_page_query
from kassa.api.routing import ApiRoute, AppSettings, Caller, Db, Now, parse_id
from kassa.api.runtime import Runtime
from kassa.api.schemas import respond
from kassa.checkout.schemas import SessionCreate, SessionFilters
from kassa.checkout.serialize import session_dict
from kassa.checkout.service import expire, queries
from kassa.checkout.service.create import create_session
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
def export(request: Request, db: Db, caller: Caller) -> Response:
    filters = parse_filters(request.query_params, SessionFilters)
    errors: list[str] = []
    bounds: dict[str, datetime] = {}
    for name in ("from", "to"):
        raw = request.query_params.get(name)
        if raw:
            try:
                bounds[name] = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                errors.append(f"{name}: must be an ISO-8601 date or date-time")
    created = parse_date_filter(request.query_params, "createdAt", errors)
    if errors:
        raise BadRequest(errors)
    start = bounds.get("from") or created.get("gte")
    end = bounds.get("to") or created.get("lt")
    # Rendered within the request's transaction: the rows are read before the response starts streaming.
    body = "".join(queries.export_rows(db, caller, filters, _utc(start), _utc(end)))
    return StreamingResponse(
        iter([body]),
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


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from kassa.api.pagination import parse_filters, parse_page_query
from kassa.api.routing import ApiRoute, Caller, Db, Now, parse_id
from kassa.api.schemas import respond
from kassa.events import queries
from kassa.events.schemas import EventDetailOut, EventFilters, ResendIn
from kassa.webhooks.resend import get_event, resend_event

router = APIRouter(prefix="/api/v1/events", tags=["Events"], route_class=ApiRoute)


@router.get("", summary="List events (kept 30 days), with their delivery status")
def list_events(request: Request, db: Db, caller: Caller) -> Response:
    query = parse_page_query(request.query_params)
    filters = parse_filters(request.query_params, EventFilters)
    return respond(queries.list_events(db, caller, query, filters))


@router.get("/{event_id}", response_model=EventDetailOut, summary="Get an event with its deliveries and attempts")
def get_event_detail(event_id: str, db: Db, caller: Caller) -> Response:
    event = get_event(db, caller, parse_id(event_id, "Event"))
    return respond(queries.event_detail(db, event))


@router.post("/{event_id}/resend", response_model=EventDetailOut, summary="Send an event again")
def resend(event_id: str, db: Db, caller: Caller, clock: Now, body: ResendIn | None = None) -> Response:
    target = body.webhook_endpoint_id if body is not None else None
    event = get_event(db, caller, parse_id(event_id, "Event"))
    resend_event(db, clock, caller, event.id, target)
    return respond(queries.event_detail(db, event))

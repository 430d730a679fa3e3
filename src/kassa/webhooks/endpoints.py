from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from kassa.api.pagination import parse_filters, parse_page_query
from kassa.api.routing import ApiRoute, Caller, Db, Now, parse_id
from kassa.api.schemas import SuccessOut, respond
from kassa.webhooks import service
from kassa.webhooks.schemas import (
    WebhookEndpointCreate,
    WebhookEndpointFilters,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
    WebhookTestOut,
)

router = APIRouter(prefix="/api/v1/webhook-endpoints", tags=["Webhook endpoints"], route_class=ApiRoute)


@router.get("", summary="List webhook endpoints")
def list_endpoints(request: Request, db: Db, caller: Caller) -> Response:
    query = parse_page_query(request.query_params)
    filters = parse_filters(request.query_params, WebhookEndpointFilters)
    return respond(service.list_endpoints(db, caller, query, filters))


@router.post("", response_model=WebhookEndpointOut, summary="Create a webhook endpoint (the secret is shown once)")
def create_endpoint(body: WebhookEndpointCreate, db: Db, caller: Caller, clock: Now) -> Response:
    return respond(service.to_out(service.create_endpoint(db, clock, caller, body), reveal_secret=True))


@router.get("/{endpoint_id}", response_model=WebhookEndpointOut, summary="Get a webhook endpoint")
def get_endpoint(endpoint_id: str, db: Db, caller: Caller) -> Response:
    return respond(service.to_out(service.get_endpoint(db, caller, parse_id(endpoint_id, "Webhook endpoint"))))


@router.put("/{endpoint_id}", response_model=WebhookEndpointOut, summary="Update a webhook endpoint")
def update_endpoint(endpoint_id: str, body: WebhookEndpointUpdate, db: Db, caller: Caller, clock: Now) -> Response:
    endpoint = service.update_endpoint(db, clock, caller, parse_id(endpoint_id, "Webhook endpoint"), body)
    return respond(service.to_out(endpoint))


@router.delete("/{endpoint_id}", response_model=SuccessOut, summary="Delete a webhook endpoint")
def delete_endpoint(endpoint_id: str, db: Db, caller: Caller, clock: Now) -> Response:
    service.delete_endpoint(db, clock, caller, parse_id(endpoint_id, "Webhook endpoint"))
    return respond(SuccessOut(message="Webhook endpoint deleted", status_code=200))


@router.post(
    "/{endpoint_id}/regenerate",
    response_model=WebhookEndpointOut,
    summary="New secret (the old one keeps signing alongside for 24 h)",
)
def regenerate_secret(endpoint_id: str, db: Db, caller: Caller, clock: Now) -> Response:
    endpoint = service.regenerate_secret(db, clock, caller, parse_id(endpoint_id, "Webhook endpoint"))
    return respond(service.to_out(endpoint, reveal_secret=True))


@router.post("/{endpoint_id}/test", response_model=WebhookTestOut, summary="Send a test event now")
def send_test(endpoint_id: str, db: Db, caller: Caller, clock: Now) -> Response:
    event = service.send_test(db, clock, caller, parse_id(endpoint_id, "Webhook endpoint"))
    return respond(WebhookTestOut(message="Test event queued for delivery", status_code=200, event_id=event.id))

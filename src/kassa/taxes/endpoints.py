from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from kassa.api.pagination import parse_filters, parse_page_query
from kassa.api.routing import ApiRoute, Caller, Db, Now, parse_id
from kassa.api.schemas import respond
from kassa.taxes import service
from kassa.taxes.schemas import TaxRateCreate, TaxRateFilters, TaxRateOut, TaxRateUpdate

router = APIRouter(prefix="/api/v1/tax-rates", tags=["Tax rates"], route_class=ApiRoute)


@router.post("", response_model=TaxRateOut, summary="Create a tax rate")
def create_tax_rate(body: TaxRateCreate, db: Db, caller: Caller, clock: Now) -> Response:
    return respond(service.to_out(service.create_tax_rate(db, clock, caller, body)))


@router.get("", summary="List tax rates")
def list_tax_rates(request: Request, db: Db, caller: Caller) -> Response:
    query = parse_page_query(request.query_params)
    filters = parse_filters(request.query_params, TaxRateFilters)
    return respond(service.list_tax_rates(db, caller, query, filters))


@router.get("/{tax_rate_id}", response_model=TaxRateOut, summary="Get a tax rate")
def get_tax_rate(tax_rate_id: str, db: Db, caller: Caller) -> Response:
    return respond(service.to_out(service.get_tax_rate(db, caller, parse_id(tax_rate_id, "Tax rate"))))


@router.put("/{tax_rate_id}", response_model=TaxRateOut, summary="Update a tax rate")
def update_tax_rate(tax_rate_id: str, body: TaxRateUpdate, db: Db, caller: Caller, clock: Now) -> Response:
    tax_rate = service.update_tax_rate(db, clock, caller, parse_id(tax_rate_id, "Tax rate"), body)
    return respond(service.to_out(tax_rate))


@router.put("/{tax_rate_id}/activate", response_model=TaxRateOut, summary="Activate a tax rate")
def activate_tax_rate(tax_rate_id: str, db: Db, caller: Caller, clock: Now) -> Response:
    tax_rate = service.activate_tax_rate(db, clock, caller, parse_id(tax_rate_id, "Tax rate"))
    return respond(service.to_out(tax_rate))


@router.put("/{tax_rate_id}/deactivate", response_model=TaxRateOut, summary="Deactivate a tax rate")
def deactivate_tax_rate(tax_rate_id: str, db: Db, caller: Caller, clock: Now) -> Response:
    tax_rate = service.deactivate_tax_rate(db, clock, caller, parse_id(tax_rate_id, "Tax rate"))
    return respond(service.to_out(tax_rate))

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from kassa.api.pagination import parse_filters, parse_page_query
from kassa.api.routing import ApiRoute, Caller, Db, Now, parse_id
from kassa.api.schemas import SuccessOut, respond
from kassa.customers import service
from kassa.customers.schemas import CustomerCreate, CustomerFilters, CustomerOut, CustomerUpdate

router = APIRouter(prefix="/api/v1/customers", tags=["Customers"], route_class=ApiRoute)


@router.post("", response_model=CustomerOut, summary="Create a customer")
def create_customer(body: CustomerCreate, db: Db, caller: Caller, clock: Now) -> Response:
    return respond(service.to_out(service.create_customer(db, clock, caller, body)))


@router.get("", summary="List customers")
def list_customers(request: Request, db: Db, caller: Caller) -> Response:
    query = parse_page_query(request.query_params)
    filters = parse_filters(request.query_params, CustomerFilters)
    return respond(service.list_customers(db, caller, query, filters))


@router.get("/{customer_id}", response_model=CustomerOut, summary="Get a customer")
def get_customer(customer_id: str, db: Db, caller: Caller) -> Response:
    return respond(service.to_out(service.get_customer(db, caller, parse_id(customer_id, "Customer"))))


@router.put("/{customer_id}", response_model=CustomerOut, summary="Update a customer")
def update_customer(customer_id: str, body: CustomerUpdate, db: Db, caller: Caller, clock: Now) -> Response:
    customer = service.update_customer(db, clock, caller, parse_id(customer_id, "Customer"), body)
    return respond(service.to_out(customer))


@router.delete("/{customer_id}", response_model=SuccessOut, summary="Delete a customer")
def delete_customer(customer_id: str, db: Db, caller: Caller, clock: Now) -> Response:
    service.delete_customer(db, clock, caller, parse_id(customer_id, "Customer"))
    return respond(SuccessOut(message="Customer deleted", status_code=200))

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from kassa.api.pagination import parse_filters, parse_page_query
from kassa.api.routing import ApiRoute, Caller, Db, Now, parse_id
from kassa.api.schemas import respond
from kassa.discounts import service
from kassa.discounts.schemas import CouponCreate, CouponFilters, CouponOut, CouponUpdate

router = APIRouter(prefix="/api/v1/coupons", tags=["Coupons"], route_class=ApiRoute)


@router.post("", response_model=CouponOut, summary="Create a coupon")
def create_coupon(body: CouponCreate, db: Db, caller: Caller, clock: Now) -> Response:
    return respond(service.to_out(service.create_coupon(db, clock, caller, body), clock.now()))


@router.get("", summary="List coupons")
def list_coupons(request: Request, db: Db, caller: Caller, clock: Now) -> Response:
    query = parse_page_query(request.query_params)
    filters = parse_filters(request.query_params, CouponFilters)
    return respond(service.list_coupons(db, clock, caller, query, filters))


@router.get("/{coupon_id}", response_model=CouponOut, summary="Get a coupon")
def get_coupon(coupon_id: str, db: Db, caller: Caller, clock: Now) -> Response:
    coupon = service.get_coupon(db, caller, parse_id(coupon_id, "Coupon"))
    return respond(service.to_out(coupon, clock.now()))


@router.put("/{coupon_id}", response_model=CouponOut, summary="Update a coupon")
def update_coupon(coupon_id: str, body: CouponUpdate, db: Db, caller: Caller, clock: Now) -> Response:
    coupon = service.update_coupon(db, clock, caller, parse_id(coupon_id, "Coupon"), body)
    return respond(service.to_out(coupon, clock.now()))


@router.post("/{coupon_id}/enable", response_model=CouponOut, summary="Enable a coupon")
def enable_coupon(coupon_id: str, db: Db, caller: Caller, clock: Now) -> Response:
    coupon = service.enable_coupon(db, clock, caller, parse_id(coupon_id, "Coupon"))
    return respond(service.to_out(coupon, clock.now()))


@router.post("/{coupon_id}/disable", response_model=CouponOut, summary="Disable a coupon")
def disable_coupon(coupon_id: str, db: Db, caller: Caller, clock: Now) -> Response:
    coupon = service.disable_coupon(db, clock, caller, parse_id(coupon_id, "Coupon"))
    return respond(service.to_out(coupon, clock.now()))


@router.post("/{coupon_id}/archive", response_model=CouponOut, summary="Archive a coupon (its codes become free)")
def archive_coupon(coupon_id: str, db: Db, caller: Caller, clock: Now) -> Response:
    coupon = service.archive_coupon(db, clock, caller, parse_id(coupon_id, "Coupon"))
    return respond(service.to_out(coupon, clock.now()))

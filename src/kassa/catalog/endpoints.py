from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from kassa.api.pagination import parse_filters, parse_page_query
from kassa.api.routing import ApiRoute, Caller, Db, Now, parse_id
from kassa.api.schemas import SuccessOut, respond
from kassa.catalog import service
from kassa.catalog.schemas import (
    PriceCreate,
    PriceFilters,
    PriceOut,
    PriceUpdate,
    ProductCreate,
    ProductFilters,
    ProductOut,
    ProductUpdate,
)

router = APIRouter(route_class=ApiRoute)
products = APIRouter(prefix="/api/v1/products", tags=["Products"], route_class=ApiRoute)
prices = APIRouter(prefix="/api/v1/prices", tags=["Prices"], route_class=ApiRoute)


@products.post("", response_model=ProductOut, summary="Create a product (and its default price)")
def create_product(body: ProductCreate, db: Db, caller: Caller, clock: Now) -> Response:
    product = service.create_product(db, clock, caller, body)
    return respond(service.product_with_default(db, product))


@products.get("", summary="List products")
def list_products(request: Request, db: Db, caller: Caller) -> Response:
    query = parse_page_query(request.query_params)
    filters = parse_filters(request.query_params, ProductFilters)
    return respond(service.list_products(db, caller, query, filters))


@products.get("/{product_id}", response_model=ProductOut, summary="Get a product")
def get_product(product_id: str, db: Db, caller: Caller) -> Response:
    product = service.get_product(db, caller, parse_id(product_id, "Product"))
    return respond(service.product_with_default(db, product))


@products.put("/{product_id}", response_model=ProductOut, summary="Update a product")
def update_product(product_id: str, body: ProductUpdate, db: Db, caller: Caller, clock: Now) -> Response:
    product = service.update_product(db, clock, caller, parse_id(product_id, "Product"), body)
    return respond(service.product_with_default(db, product))


@products.delete("/{product_id}", response_model=SuccessOut, summary="Delete a product")
def delete_product(product_id: str, db: Db, caller: Caller, clock: Now) -> Response:
    service.delete_product(db, clock, caller, parse_id(product_id, "Product"))
    return respond(SuccessOut(message="Product deleted", status_code=200))


@products.put("/{product_id}/activate", response_model=ProductOut, summary="Activate a product")
def activate_product(product_id: str, db: Db, caller: Caller, clock: Now) -> Response:
    product = service.set_product_active(db, clock, caller, parse_id(product_id, "Product"), True)
    return respond(service.product_with_default(db, product))


@products.put("/{product_id}/deactivate", response_model=ProductOut, summary="Deactivate a product")
def deactivate_product(product_id: str, db: Db, caller: Caller, clock: Now) -> Response:
    product = service.set_product_active(db, clock, caller, parse_id(product_id, "Product"), False)
    return respond(service.product_with_default(db, product))


@prices.post("", response_model=PriceOut, summary="Create a price")
def create_price(body: PriceCreate, db: Db, caller: Caller, clock: Now) -> Response:
    return respond(service.price_with_product(db, service.create_price(db, clock, caller, body)))


@prices.get("", summary="List prices")
def list_prices(request: Request, db: Db, caller: Caller) -> Response:
    query = parse_page_query(request.query_params)
    filters = parse_filters(request.query_params, PriceFilters)
    return respond(service.list_prices(db, caller, query, filters))


@prices.get("/{price_id}", response_model=PriceOut, summary="Get a price")
def get_price(price_id: str, db: Db, caller: Caller) -> Response:
    return respond(service.price_with_product(db, service.get_price(db, caller, parse_id(price_id, "Price"))))


@prices.put("/{price_id}", response_model=PriceOut, summary="Update a price (isActive, metadata, nickname)")
def update_price(price_id: str, body: PriceUpdate, db: Db, caller: Caller, clock: Now) -> Response:
    price = service.update_price(db, clock, caller, parse_id(price_id, "Price"), body)
    return respond(service.price_with_product(db, price))


router.include_router(products)
router.include_router(prices)

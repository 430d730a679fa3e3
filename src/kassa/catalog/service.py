"""Products and prices: create, read, update, (de)activate, delete, list."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from kassa.api.pagination import PageQuery, paginate
from kassa.auth.keys import Principal
from kassa.catalog.models import Price, Product
from kassa.catalog.schemas import (
    DefaultPriceData,
    PriceCreate,
    PriceFilters,
    PriceUpdate,
    ProductCreate,
    ProductData,
    ProductFilters,
    ProductUpdate,
)
from kassa.catalog.serialize import price_out, product_out
from kassa.clock import Clock
from kassa.errors import BadRequest, NotFound

DEFAULT_VISIBILITY = 10


def scoped_products(principal: Principal) -> Select[Product]:
    return select(Product).where(
        Product.organization_id == principal.organization_id,
        Product.mode == principal.mode,
        Product.deleted_at.is_(None),
    )


def scoped_prices(principal: Principal) -> Select[Price]:
    return select(Price).where(Price.organization_id == principal.organization_id, Price.mode == principal.mode)


def get_product(db: Session, principal: Principal, product_id: uuid.UUID) -> Product:
    product = db.scalar(scoped_products(principal).where(Product.id == product_id))
    if product is None:
        raise NotFound(f"Product {product_id} not found")
    return product


def get_price(db: Session, principal: Principal, price_id: uuid.UUID) -> Price:
    price = db.scalar(scoped_prices(principal).where(Price.id == price_id))
    if price is None:
        raise NotFound(f"Price {price_id} not found")
    return price


def prices_by_id(db: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, Price]:
    return {p.id: p for p in db.scalars(select(Price).where(Price.id.in_(ids)))} if ids else {}


def products_by_id(db: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, Product]:
    return {p.id: p for p in db.scalars(select(Product).where(Product.id.in_(ids)))} if ids else {}


# --- products -------------------------------------------------------------------------------------------


def new_product(db: Session, clock: Clock, principal: Principal, data: ProductData | ProductCreate) -> Product:
    now = clock.now()
    product = Product(
        **principal.stamp(now),
        name=data.name,
        description=data.description,
        is_active=getattr(data, "is_active", True),
        images=list(data.images or []),
        unit_label=data.unit_label,
        url=data.url,
        metadata_=data.metadata,
        visibility=data.visibility or DEFAULT_VISIBILITY,
    )
    db.add(product)
    db.flush()
    return product


def create_product(db: Session, clock: Clock, principal: Principal, data: ProductCreate) -> Product:
    product = new_product(db, clock, principal, data)
    if data.default_price_data is not None:
        price = _new_price(db, clock, principal, product, data.default_price_data)
        product.default_price_id = price.id
        db.flush()
    return product


def update_product(
    db: Session, clock: Clock, principal: Principal, product_id: uuid.UUID, data: ProductUpdate
) -> Product:
    product = get_product(db, principal, product_id)
    sent = data.model_fields_set
    product.name = data.name
    for field in ("description", "unit_label", "url", "is_active"):
        if field in sent and (field != "is_active" or data.is_active is not None):
            setattr(product, field, getattr(data, field))
    if "images" in sent:
        product.images = list(data.images or [])
    if "metadata" in sent:
        product.metadata_ = data.metadata
    if data.visibility is not None:
        product.visibility = data.visibility
    if data.default_price_id is not None and data.default_price_id != product.default_price_id:
        price = db.scalar(scoped_prices(principal).where(Price.id == data.default_price_id))
        if price is None or price.product_id != product.id:
            raise BadRequest("defaultPriceId: must be a price of this product")
        if not price.is_active:
            raise BadRequest("defaultPriceId: the price is not active")
        product.default_price_id = price.id
    product.updated_at = clock.now()
    db.flush()
    return product


def set_product_active(db: Session, clock: Clock, principal: Principal, product_id: uuid.UUID, active: bool) -> Product:
    product = get_product(db, principal, product_id)
    product.is_active = active
    product.updated_at = clock.now()
    db.flush()
    return product


def delete_product(db: Session, clock: Clock, principal: Principal, product_id: uuid.UUID) -> None:
    product = get_product(db, principal, product_id)
    # Soft delete: checkout sessions and subscriptions keep their line items' product. Its prices stop selling.
    now = clock.now()
    product.deleted_at = now
    product.is_active = False
    product.updated_at = now
    for price in db.scalars(select(Price).where(Price.product_id == product.id, Price.is_active.is_(True))):
        price.is_active = False
        price.updated_at = now
    db.flush()


def list_products(db: Session, principal: Principal, query: PageQuery, filters: ProductFilters) -> dict[str, Any]:
    stmt = scoped_products(principal)
    if filters.is_active is not None:
        stmt = stmt.where(Product.is_active.is_(filters.is_active))
    if filters.visibility is not None:
        stmt = stmt.where(Product.visibility == filters.visibility)
    if filters.url is not None:
        stmt = stmt.where(Product.url == filters.url)
    price_conditions = _price_conditions(filters)
    if price_conditions:
        stmt = stmt.where(exists().where(Price.product_id == Product.id, Price.is_active.is_(True), *price_conditions))
    echo = filters.model_dump(by_alias=True, exclude_none=True, mode="json")
    page = paginate(db, stmt, Product, query, lambda p: p, echo)
    products: list[Product] = page["data"]
    defaults = prices_by_id(db, {p.default_price_id for p in products if p.default_price_id})
    page["data"] = [product_out(p, defaults.get(p.default_price_id) if p.default_price_id else None) for p in products]
    return page


def _price_conditions(filters: ProductFilters) -> list[Any]:
    conditions: list[Any] = []
    if filters.price_types:
        types = [t.strip() for t in filters.price_types.split(",") if t.strip()]
        unknown = [t for t in types if t not in ("one_time", "recurring", "streaming")]
        if unknown:
            raise BadRequest(f"priceTypes: unknown price type {unknown[0]!r}")
        conditions.append(Price.type.in_(types))
    if filters.interval is not None:
        conditions.append(Price.interval == filters.interval)
    if filters.interval_count is not None:
        conditions.append(Price.interval_count == filters.interval_count)
    if filters.price_currency is not None:
        conditions.append(Price.currency == filters.price_currency.value)
    return conditions


def product_with_default(db: Session, product: Product) -> Any:
    default = db.get(Price, product.default_price_id) if product.default_price_id else None
    return product_out(product, default)


# --- prices ---------------------------------------------------------------------------------------------


def create_price(db: Session, clock: Clock, principal: Principal, data: PriceCreate) -> Price:
    if data.product_id is not None:
        product = get_product(db, principal, data.product_id)
    else:
        assert data.product_data is not None
        product = new_product(db, clock, principal, data.product_data)
    price = _new_price(db, clock, principal, product, data)
    if product.default_price_id is None:
        product.default_price_id = price.id
        db.flush()
    return price


def _new_price(
    db: Session, clock: Clock, principal: Principal, product: Product, data: PriceCreate | DefaultPriceData
) -> Price:
    now = clock.now()
    price = Price(
        **principal.stamp(now),
        product_id=product.id,
        currency=data.currency.value,
        type=data.type,
        unit_amount=data.unit_amount,
        interval=data.interval,
        interval_count=data.interval_count,
        is_active=True,
        visibility=DEFAULT_VISIBILITY,
    )
    if isinstance(data, PriceCreate):
        if data.unit_amount is None:
            price.custom_unit_min = data.custom_unit_min or 0
            price.custom_unit_max = data.custom_unit_max
            price.custom_preset = data.custom_preset
            price.custom_suggestions = data.custom_unit_amount_suggestions
        price.metadata_ = data.metadata
        price.nickname = data.nickname
        price.visibility = data.visibility or DEFAULT_VISIBILITY
    db.add(price)
    db.flush()
    return price


def update_price(db: Session, clock: Clock, principal: Principal, price_id: uuid.UUID, data: PriceUpdate) -> Price:
    price = get_price(db, principal, price_id)
    sent = data.model_fields_set
    if data.is_active is not None:
        price.is_active = data.is_active
    if "metadata" in sent:
        price.metadata_ = data.metadata
    if "nickname" in sent:
        price.nickname = data.nickname
    if data.visibility is not None:
        price.visibility = data.visibility
    price.updated_at = clock.now()
    db.flush()
    return price


def list_prices(db: Session, principal: Principal, query: PageQuery, filters: PriceFilters) -> dict[str, Any]:
    stmt = scoped_prices(principal)
    if filters.is_active is not None:
        stmt = stmt.where(Price.is_active.is_(filters.is_active))
    if filters.type is not None:
        stmt = stmt.where(Price.type == filters.type)
    if filters.product_id is not None:
        stmt = stmt.where(Price.product_id == filters.product_id)
    if filters.visibility is not None:
        stmt = stmt.where(Price.visibility == filters.visibility)
    if filters.currency is not None:
        stmt = stmt.where(Price.currency == filters.currency.value)
    page = paginate(
        db, stmt, Price, query, lambda p: p, filters.model_dump(by_alias=True, exclude_none=True, mode="json")
    )
    prices: list[Price] = page["data"]
    products = products_by_id(db, {p.product_id for p in prices})
    page["data"] = [price_out(p, products[p.product_id]) for p in prices]
    return page


def price_with_product(db: Session, price: Price) -> Any:
    product = db.get(Product, price.product_id)
    assert product is not None
    return price_out(price, product)

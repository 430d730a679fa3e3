"""Customers: create, read, update, soft-delete, list; always scoped to the caller's organization and mode."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, select, update
from sqlalchemy.orm import Session

from kassa.api.pagination import PageQuery, paginate
from kassa.auth.keys import Principal
from kassa.auth.models import Organization
from kassa.clock import Clock
from kassa.customers.models import Customer
from kassa.customers.schemas import (
    CustomerCreate,
    CustomerFields,
    CustomerFilters,
    CustomerOut,
    CustomerUpdate,
    TaxIdOut,
    TaxIdsOut,
)
from kassa.db.types import new_id
from kassa.errors import NotFound

DEFAULT_VISIBILITY = 10


def scoped(principal: Principal) -> Select[Customer]:
    return select(Customer).where(
        Customer.organization_id == principal.organization_id,
        Customer.mode == principal.mode,
        Customer.deleted_at.is_(None),
    )


def get_customer(db: Session, principal: Principal, customer_id: uuid.UUID) -> Customer:
    customer = db.scalar(scoped(principal).where(Customer.id == customer_id))
    if customer is None:
        raise NotFound(f"Customer {customer_id} not found")
    return customer


def next_customer_number(db: Session, principal: Principal) -> str:
    # UPDATE … RETURNING takes the row lock, so concurrent creations never share a number.
    # Core (not ORM) UPDATE: the ORM's bulk-update path costs more than the statement itself.
    table = cast(Table, Organization.__table__)
    seq = db.execute(
        update(table)
        .where(table.c.id == principal.organization_id)
        .values(customer_seq=table.c.customer_seq + 1)
        .returning(table.c.customer_seq)
    ).scalar_one()
    prefix = "CUS" if principal.mode == "live" else "TCUS"
    return f"{prefix}-{seq:06d}"


def create_customer(db: Session, clock: Clock, principal: Principal, data: CustomerCreate) -> Customer:
    now = clock.now()
    customer = Customer(
        id=new_id(),
        **principal.stamp(now),
        customer_number=next_customer_number(db, principal),
        email=str(data.email),
        visibility=data.visibility or DEFAULT_VISIBILITY,
        tax_ids=[],
    )
    _apply(customer, data, clock)
    db.add(customer)
    db.flush()
    return customer


def update_customer(
    db: Session, clock: Clock, principal: Principal, customer_id: uuid.UUID, data: CustomerUpdate
) -> Customer:
    customer = get_customer(db, principal, customer_id)
    customer.email = str(data.email)
    if data.visibility is not None:
        customer.visibility = data.visibility
    _apply(customer, data, clock)
    customer.updated_at = clock.now()
    db.flush()
    return customer


def _apply(customer: Customer, data: CustomerFields, clock: Clock) -> None:
    """Copy the fields the client sent (PUT replaces only what is present, like Copperx)."""
    sent = data.model_fields_set
    for field in ("name", "phone", "organization_name", "customer_reference_id"):
        if field in sent:
            setattr(customer, field, getattr(data, field))
    if "address" in sent:
        customer.address = data.address.model_dump(by_alias=True, exclude_none=True) if data.address else None
    if "shipping" in sent:
        customer.shipping = data.shipping.model_dump(by_alias=True, exclude_none=True) if data.shipping else None
    if "metadata" in sent:
        customer.metadata_ = data.metadata
    if "tax_ids" in sent:
        now = clock.now().isoformat()
        customer.tax_ids = [
            {"id": str(new_id()), **item.model_dump(exclude_none=True), "createdAt": now}
            for item in (data.tax_ids.data if data.tax_ids else [])
        ]


def delete_customer(db: Session, clock: Clock, principal: Principal, customer_id: uuid.UUID) -> None:
    customer = get_customer(db, principal, customer_id)
    # Soft delete: checkout sessions and subscriptions keep pointing at the row.
    customer.deleted_at = clock.now()
    customer.updated_at = customer.deleted_at
    db.flush()


def list_customers(db: Session, principal: Principal, query: PageQuery, filters: CustomerFilters) -> dict[str, Any]:
    stmt = scoped(principal)
    if filters.email:
        stmt = stmt.where(Customer.email == filters.email)
    if filters.customer_reference_id:
        stmt = stmt.where(Customer.customer_reference_id == filters.customer_reference_id)
    if filters.visibility:
        stmt = stmt.where(Customer.visibility == filters.visibility)
    echo = filters.model_dump(by_alias=True, exclude_none=True)
    return paginate(db, stmt, Customer, query, to_out, echo)


def to_out(customer: Customer) -> CustomerOut:
    tax_ids = [
        TaxIdOut(
            id=item["id"],
            name=item["name"],
            value=item["value"],
            country=item.get("country"),
            customer_id=customer.id,
            created_at=datetime.fromisoformat(item["createdAt"]),
            updated_at=datetime.fromisoformat(item["createdAt"]),
        )
        for item in customer.tax_ids
    ]
    return CustomerOut(
        id=customer.id,
        customer_number=customer.customer_number,
        email=customer.email,
        name=customer.name,
        phone=customer.phone,
        organization_name=customer.organization_name,
        address=customer.address,
        shipping=customer.shipping,
        tax_ids=TaxIdsOut(data=tax_ids),
        customer_reference_id=customer.customer_reference_id,
        visibility=customer.visibility,
        metadata=customer.metadata_,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
        organization_id=customer.organization_id,
        livemode=customer.mode == "live",
    )

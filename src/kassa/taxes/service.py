"""Tax rates: create, read, update, (de)activate, list; always scoped to the caller's organization and mode.

A rate's percentage and type never change once created, so everything that used it keeps its meaning.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from kassa.api.pagination import PageQuery, paginate
from kassa.auth.keys import Principal
from kassa.clock import Clock
from kassa.db.types import new_id
from kassa.errors import BadRequest, NotFound
from kassa.taxes.models import TaxRate
from kassa.taxes.schemas import (
    TaxRateCreate,
    TaxRateFilters,
    TaxRateOut,
    TaxRateUpdate,
    format_percentage_e4,
    percentage_to_e4,
)


def scoped(principal: Principal) -> Select[TaxRate]:
    return select(TaxRate).where(TaxRate.organization_id == principal.organization_id, TaxRate.mode == principal.mode)


def get_tax_rate(db: Session, principal: Principal, tax_rate_id: uuid.UUID) -> TaxRate:
    tax_rate = db.scalar(scoped(principal).where(TaxRate.id == tax_rate_id))
    if tax_rate is None:
        raise NotFound(f"Tax rate {tax_rate_id} not found")
    return tax_rate


def create_tax_rate(db: Session, clock: Clock, principal: Principal, data: TaxRateCreate) -> TaxRate:
    now = clock.now()
    tax_rate = TaxRate(
        id=new_id(),
        **principal.stamp(now),
        name=data.name,
        description=data.description,
        country=data.country,
        percentage_e4=percentage_to_e4(data.percentage),
        type=data.type,
        is_active=data.is_active,
        metadata_=data.metadata,
    )
    db.add(tax_rate)
    db.flush()
    return tax_rate


def update_tax_rate(
    db: Session, clock: Clock, principal: Principal, tax_rate_id: uuid.UUID, data: TaxRateUpdate
) -> TaxRate:
    """PUT replaces only what is present, like Copperx; `percentage` and `type` are refused by the schema."""
    tax_rate = get_tax_rate(db, principal, tax_rate_id)
    sent = data.model_fields_set
    tax_rate.name = data.name
    for field in ("description", "country"):
        if field in sent:
            setattr(tax_rate, field, getattr(data, field))
    if data.is_active is not None:
        tax_rate.is_active = data.is_active
    if "metadata" in sent:
        tax_rate.metadata_ = data.metadata
    tax_rate.updated_at = clock.now()
    db.flush()
    return tax_rate


def activate_tax_rate(db: Session, clock: Clock, principal: Principal, tax_rate_id: uuid.UUID) -> TaxRate:
    return _set_active(db, clock, principal, tax_rate_id, True)


def deactivate_tax_rate(db: Session, clock: Clock, principal: Principal, tax_rate_id: uuid.UUID) -> TaxRate:
    return _set_active(db, clock, principal, tax_rate_id, False)


def _set_active(db: Session, clock: Clock, principal: Principal, tax_rate_id: uuid.UUID, active: bool) -> TaxRate:
    tax_rate = get_tax_rate(db, principal, tax_rate_id)
    if tax_rate.is_active != active:  # repeating the call changes nothing, not even updatedAt
        tax_rate.is_active = active
        tax_rate.updated_at = clock.now()
        db.flush()
    return tax_rate


def list_tax_rates(db: Session, principal: Principal, query: PageQuery, filters: TaxRateFilters) -> dict[str, Any]:
    stmt = scoped(principal)
    if filters.is_active is not None:
        stmt = stmt.where(TaxRate.is_active == filters.is_active)
    if filters.type:
        stmt = stmt.where(TaxRate.type == filters.type)
    if filters.country:
        stmt = stmt.where(TaxRate.country == filters.country)
    echo = filters.model_dump(by_alias=True, exclude_none=True)
    return paginate(db, stmt, TaxRate, query, to_out, echo)


def get_active_tax_rates(db: Session, principal: Principal, ids: list[uuid.UUID]) -> list[TaxRate]:
    """The caller's active tax rates with these ids, in the order given (for checkout sessions and invoices).

    Raises BadRequest naming every id that does not exist (here), is not active, or is listed twice.
    """
    if not ids:
        return []
    found = {rate.id: rate for rate in db.scalars(scoped(principal).where(TaxRate.id.in_(set(ids))))}
    errors: list[str] = []
    seen: set[uuid.UUID] = set()
    for tax_rate_id in ids:
        rate = found.get(tax_rate_id)
        if tax_rate_id in seen:
            errors.append(f"taxRateIds: tax rate {tax_rate_id} is listed more than once")
        elif rate is None:
            errors.append(f"taxRateIds: tax rate {tax_rate_id} does not exist")
        elif not rate.is_active:
            errors.append(f"taxRateIds: tax rate {tax_rate_id} is not active")
        seen.add(tax_rate_id)
    if errors:
        raise BadRequest(errors)
    return [found[tax_rate_id] for tax_rate_id in ids]


def to_out(tax_rate: TaxRate) -> TaxRateOut:
    return TaxRateOut(
        id=tax_rate.id,
        name=tax_rate.name,
        description=tax_rate.description,
        country=tax_rate.country,
        percentage=Decimal(format_percentage_e4(tax_rate.percentage_e4)),
        type=tax_rate.type,  # the column only holds TaxType values (check constraint)
        is_active=tax_rate.is_active,
        metadata=tax_rate.metadata_,
        created_at=tax_rate.created_at,
        updated_at=tax_rate.updated_at,
        organization_id=tax_rate.organization_id,
        livemode=tax_rate.mode == "live",
    )

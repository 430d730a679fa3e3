from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, EmailStr, Field, StringConstraints

from kassa.api.schemas import AddressIn, ApiModel, Name, OutModel, Str200
from kassa.api.types import Metadata, Timestamp, Visibility

_PHONE_RE = re.compile(r"^\+?[0-9][0-9 ().\-]{2,38}$")


def _check_phone(value: str) -> str:
    if not _PHONE_RE.match(value):
        raise ValueError("must be a phone number: digits, spaces, ( ) . - and an optional leading +")
    return value


Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40), AfterValidator(_check_phone)]
Email = Annotated[EmailStr, StringConstraints(max_length=320)]


class ShippingIn(ApiModel):
    name: Str200 | None = None
    email: Email | None = None
    phone: Phone | None = None
    organization_name: Str200 | None = None
    address: AddressIn | None = None


class TaxIdIn(ApiModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    country: Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)] | None = None


class TaxIdsIn(ApiModel):
    data: list[TaxIdIn] = Field(default_factory=list, max_length=20)


class CustomerFields(ApiModel):
    name: Name | None = None
    phone: Phone | None = None
    organization_name: Str200 | None = None
    address: AddressIn | None = None
    customer_reference_id: Str200 | None = None
    shipping: ShippingIn | None = None
    visibility: Visibility | None = None
    metadata: Metadata | None = None
    tax_ids: TaxIdsIn | None = None


class CustomerCreate(CustomerFields):
    email: Email


class CustomerUpdate(CustomerFields):
    email: Email


class TaxIdOut(OutModel):
    id: str
    name: str
    value: str
    country: str | None = None
    customer_id: uuid.UUID
    created_at: Timestamp
    updated_at: Timestamp


class TaxIdsOut(OutModel):
    object: Literal["list"] = "list"
    data: list[TaxIdOut]


class CustomerOut(OutModel):
    id: uuid.UUID
    object: Literal["customer"] = "customer"
    customer_number: str
    email: str
    name: str | None
    phone: str | None
    organization_name: str | None
    address: dict[str, Any] | None
    shipping: dict[str, Any] | None
    tax_ids: TaxIdsOut
    customer_reference_id: str | None
    visibility: int
    metadata: dict[str, Any] | None
    created_at: Timestamp
    updated_at: Timestamp
    organization_id: uuid.UUID
    livemode: bool


class CustomerFilters(ApiModel):
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] | None = None
    customer_reference_id: Str200 | None = None
    visibility: Visibility | None = None

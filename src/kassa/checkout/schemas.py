"""The create-session body (Copperx's CreateSessionDto, plus our additions) with every rule on its fields."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from eth_utils.address import is_checksum_address, to_checksum_address
from pydantic import AfterValidator, Field, StringConstraints, model_validator

from kassa.api.schemas import AddressIn, ApiModel, Str200
from kassa.api.types import HttpUrl, Metadata
from kassa.catalog.schemas import PositiveAmount, ProductData, RecurringFields
from kassa.customers.schemas import Email, Phone, TaxIdsIn
from kassa.money import MAX_QUANTITY, Currency

MAX_LINE_ITEMS = 100
MAX_CUSTOM_FIELDS = 3
SESSION_ID_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"
_KEY_RE = re.compile(r"^[A-Za-z0-9_]{1,200}$")
_EVM_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _check_key(value: str) -> str:
    if not _KEY_RE.match(value):
        raise ValueError("must be 1 to 200 letters, digits or underscores")
    return value


def _check_evm_address(value: str) -> str:
    if not _EVM_ADDRESS_RE.match(value):
        raise ValueError("must be an EVM address: 0x followed by 40 hex digits")
    if value.lower() == "0x" + "0" * 40:
        raise ValueError("must not be the zero address")
    mixed_case = value[2:] != value[2:].lower() and value[2:] != value[2:].upper()
    if mixed_case and not is_checksum_address(value):
        raise ValueError("has a wrong EIP-55 checksum (a typo?): check the address")
    return to_checksum_address(value)


EvmAddress = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_check_evm_address)]


class InlinePriceData(RecurringFields):
    unit_amount: PositiveAmount
    product_id: uuid.UUID | None = None
    product_data: ProductData | None = None

    @model_validator(mode="after")
    def _one_product(self) -> Self:
        if (self.product_id is None) == (self.product_data is None):
            raise ValueError("productId: give exactly one of productId and productData")
        return self


class LineItemIn(ApiModel):
    price_id: uuid.UUID | None = None
    price_data: InlinePriceData | None = None
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)] = 1
    tax_rate_ids: list[uuid.UUID] | None = Field(default=None, max_length=5)

    @model_validator(mode="after")
    def _one_price(self) -> Self:
        if (self.price_id is None) == (self.price_data is None):
            raise ValueError("priceId: give exactly one of priceId and priceData")
        return self


class LineItemsIn(ApiModel):
    data: list[LineItemIn] = Field(min_length=1, max_length=MAX_LINE_ITEMS)


class CustomFieldLabel(ApiModel):
    type: Literal["custom"] = "custom"
    custom: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class LengthRule(ApiModel):
    minimum_length: Annotated[int, Field(ge=0, le=255)] | None = None
    maximum_length: Annotated[int, Field(ge=1, le=255)] | None = None

    @model_validator(mode="after")
    def _order(self) -> Self:
        if (
            self.minimum_length is not None
            and self.maximum_length is not None
            and self.minimum_length > self.maximum_length
        ):
            raise ValueError("minimumLength: must not exceed maximumLength")
        return self


class DropdownOption(ApiModel):
    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class DropdownRule(ApiModel):
    options: list[DropdownOption] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        values = [o.value for o in self.options]
        if len(set(values)) != len(values):
            raise ValueError("options: option values must be unique")
        return self


class CustomFieldIn(ApiModel):
    key: Annotated[str, AfterValidator(_check_key)]
    type: Literal["text", "numeric", "dropdown"]
    label: CustomFieldLabel
    optional: bool = False
    text: LengthRule | None = None
    numeric: LengthRule | None = None
    dropdown: DropdownRule | None = None

    @model_validator(mode="after")
    def _matching_settings(self) -> Self:
        if self.type == "dropdown" and self.dropdown is None:
            raise ValueError("dropdown: is required for a dropdown field")
        for other in ("text", "numeric", "dropdown"):
            if other != self.type and getattr(self, other) is not None:
                raise ValueError(f"{other}: only a {other} field has {other} settings")
        return self


class CustomFieldsIn(ApiModel):
    fields: list[CustomFieldIn] = Field(default_factory=list, max_length=MAX_CUSTOM_FIELDS)

    @model_validator(mode="after")
    def _unique_keys(self) -> Self:
        keys = [f.key for f in self.fields]
        if len(set(keys)) != len(keys):
            raise ValueError("fields: keys must be unique")
        return self


class CustomerUpdateIn(ApiModel):
    address: Literal["auto", "never"] = "never"
    name: Literal["auto", "never"] = "never"
    shipping: Literal["auto", "never"] = "never"


class CustomerDataIn(ApiModel):
    name: Str200 | None = None
    email: Email | None = None
    phone: Phone | None = None
    organization_name: Str200 | None = None
    address: AddressIn | None = None
    tax_ids: TaxIdsIn | None = None


class SplitAddressIn(ApiModel):
    address: EvmAddress
    split_percentage: Annotated[int, Field(ge=1, le=99, strict=False)]


class AllowedChainIn(ApiModel):
    chain_id: Annotated[int, Field(ge=1)]
    blacklist_currencies: list[Currency] = Field(default_factory=list)
    withdrawal_address: EvmAddress | None = None
    withdrawal_addresses: list[SplitAddressIn] | None = Field(default=None, min_length=2, max_length=4)

    @model_validator(mode="after")
    def _splits(self) -> Self:
        if self.withdrawal_addresses is not None:
            if self.withdrawal_address is not None:
                raise ValueError("withdrawalAddress: give either withdrawalAddress or withdrawalAddresses")
            if sum(s.split_percentage for s in self.withdrawal_addresses) != 100:
                raise ValueError("withdrawalAddresses: split percentages must add up to 100")
            if len({s.address.lower() for s in self.withdrawal_addresses}) != len(self.withdrawal_addresses):
                raise ValueError("withdrawalAddresses: addresses must be distinct")
        return self


class PaymentSettingIn(ApiModel):
    allowed_chains: list[AllowedChainIn] | None = Field(default=None, min_length=1, max_length=20)
    preferred_chain_id: int | None = None
    allow_swap: bool = False
    allow_fiat_payment: bool = False

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.allow_fiat_payment:
            raise ValueError("allowFiatPayment: fiat payments are not supported by Kassa; pay in stablecoins")
        if self.allowed_chains is not None:
            ids = [c.chain_id for c in self.allowed_chains]
            if len(set(ids)) != len(ids):
                raise ValueError("allowedChains: each chain may appear once")
            if self.preferred_chain_id is not None and self.preferred_chain_id not in ids:
                raise ValueError("preferredChainId: must be one of allowedChains")
        return self


class SessionCreate(ApiModel):
    success_url: HttpUrl
    cancel_url: HttpUrl | None = None
    line_items: LineItemsIn
    mode: Literal["payment", "subscription"] = "payment"
    name_collection: bool = False
    email_collection: bool = False
    phone_number_collection: bool = False
    billing_address_collection: bool = False
    shipping_address_collection: bool = False
    custom_fields: CustomFieldsIn | None = None
    expires_at: datetime | None = None
    after_completion: Literal["redirect", "hosted_confirmation"] | None = None
    after_completion_confirm_msg: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    submit_type: Literal["pay", "book", "donate"] = "pay"
    customer_id: uuid.UUID | None = None
    customer_creation: Literal["if_required", "always"] = "if_required"
    customer_update: CustomerUpdateIn | None = None
    customer_data: CustomerDataIn | None = None
    metadata: Metadata | None = None
    client_reference_id: Str200 | None = None
    allow_promotion_codes: bool = False
    default_promotion_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    tax_rate_ids: list[uuid.UUID] | None = Field(default=None, max_length=5)
    payment_setting: PaymentSettingIn | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.customer_update is not None and self.customer_id is None:
            raise ValueError("customerUpdate: only applies together with customerId")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expiresAt: must carry a time zone (for example 2026-01-01T10:00:00Z)")
        return self


SessionFilterStatus = Literal["open", "complete", "incomplete", "expired"]


class SessionFilters(ApiModel):
    status: SessionFilterStatus | None = None
    payment_status: Literal["unpaid", "paid"] | None = None
    customer_id: uuid.UUID | None = None
    mode: Literal["payment", "subscription"] | None = None
    coupon_id: uuid.UUID | None = None
    payment_link_id: uuid.UUID | None = None
    subscription_id: uuid.UUID | None = None

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from kassa.api.schemas import ApiModel, OutModel, Str500
from kassa.api.types import Amount, AmountOut, HttpUrl, Metadata, Timestamp, Visibility
from kassa.money import Currency

PriceType = Literal["one_time", "recurring", "streaming"]
Interval = Literal["day", "week", "month", "year"]
ProductName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=250)]
UnitLabel = Annotated[str, StringConstraints(strip_whitespace=True, max_length=12)]
Nickname = Annotated[str, StringConstraints(strip_whitespace=True, max_length=250)]
# Stripe's bounds: at most 3 years of whatever interval.
MAX_INTERVAL_COUNT = {"day": 1095, "week": 156, "month": 36, "year": 3}
MAX_SUGGESTIONS = 5


def _positive(value: int) -> int:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


PositiveAmount = Annotated[Amount, AfterValidator(_positive)]


class ProductData(ApiModel):
    name: ProductName
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None = None
    images: list[HttpUrl] | None = Field(default=None, max_length=8)
    unit_label: UnitLabel | None = None
    url: HttpUrl | None = None
    metadata: Metadata | None = None
    visibility: Visibility | None = None


class RecurringFields(ApiModel):
    currency: Currency
    type: PriceType = "one_time"
    interval: Interval | None = None
    interval_count: Annotated[int, Field(strict=True)] | None = None

    @model_validator(mode="after")
    def _recurring_rules(self) -> Self:
        if self.type == "streaming":
            raise ValueError("type: streaming prices are not supported; use one_time or recurring")
        if self.type == "recurring":
            if self.interval is None:
                raise ValueError("interval: is required for recurring prices")
            count = self.interval_count if self.interval_count is not None else 1
            if not 1 <= count <= MAX_INTERVAL_COUNT[self.interval]:
                raise ValueError(f"intervalCount: must be 1 to {MAX_INTERVAL_COUNT[self.interval]} for {self.interval}")
            self.interval_count = count
        elif self.interval is not None or self.interval_count is not None:
            raise ValueError("interval: only recurring prices have an interval")
        return self


class DefaultPriceData(RecurringFields):
    unit_amount: PositiveAmount


class PriceCreate(RecurringFields):
    unit_amount: PositiveAmount | None = None
    custom_unit_min: Amount | None = None
    custom_unit_max: PositiveAmount | None = None
    custom_preset: PositiveAmount | None = None
    custom_unit_amount_suggestions: list[PositiveAmount] | None = Field(default=None, max_length=MAX_SUGGESTIONS)
    product_id: uuid.UUID | None = None
    product_data: ProductData | None = None
    metadata: Metadata | None = None
    visibility: Visibility | None = None
    nickname: Nickname | None = None

    @model_validator(mode="after")
    def _amount_rules(self) -> Self:
        if (self.product_id is None) == (self.product_data is None):
            raise ValueError("productId: give exactly one of productId and productData")
        custom = (
            self.custom_unit_min,
            self.custom_unit_max,
            self.custom_preset,
            self.custom_unit_amount_suggestions,
        )
        if self.unit_amount is not None:
            if any(v is not None for v in custom):
                raise ValueError("unitAmount: a fixed price cannot have custom amount settings (customUnit…)")
            return self
        if self.type == "recurring":
            raise ValueError("unitAmount: is required for recurring prices (pay-what-you-want is one_time only)")
        low = self.custom_unit_min or 0
        high = self.custom_unit_max
        if high is not None and high < low:
            raise ValueError("customUnitMax: must not be less than customUnitMin")
        checks = [("customPreset", self.custom_preset)]
        checks += [("customUnitAmountSuggestions", v) for v in self.custom_unit_amount_suggestions or []]
        for name, value in checks:
            if value is not None and (value < low or (high is not None and value > high)):
                raise ValueError(f"{name}: must lie between customUnitMin and customUnitMax")
        return self


class PriceUpdate(ApiModel):
    is_active: bool | None = None
    metadata: Metadata | None = None
    visibility: Visibility | None = None
    nickname: Nickname | None = None


class ProductCreate(ApiModel):
    name: ProductName
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None = None
    is_active: bool = True
    images: list[HttpUrl] | None = Field(default=None, max_length=8)
    unit_label: UnitLabel | None = None
    url: HttpUrl | None = None
    metadata: Metadata | None = None
    visibility: Visibility | None = None
    default_price_data: DefaultPriceData | None = None


class ProductUpdate(ApiModel):
    name: ProductName
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None = None
    is_active: bool | None = None
    images: list[HttpUrl] | None = Field(default=None, max_length=8)
    unit_label: UnitLabel | None = None
    url: HttpUrl | None = None
    metadata: Metadata | None = None
    visibility: Visibility | None = None
    default_price_id: uuid.UUID | None = None


class PublicProductOut(OutModel):
    id: uuid.UUID
    object: Literal["product"] = "product"
    name: str
    description: str | None
    is_active: bool
    images: list[str]
    public_images: list[str]
    unit_label: str | None
    url: str | None
    default_price_id: uuid.UUID | None
    metadata: dict[str, Any] | None
    visibility: int
    created_at: Timestamp
    updated_at: Timestamp
    organization_id: uuid.UUID
    livemode: bool


class PublicPriceOut(OutModel):
    id: uuid.UUID
    object: Literal["price"] = "price"
    billing_scheme: Literal["per_unit"] = "per_unit"
    usage_type: Literal["licensed"] = "licensed"
    currency: str
    product_id: uuid.UUID
    type: str
    interval: str | None
    interval_count: int | None
    is_active: bool
    unit_amount: AmountOut | None
    unit_amount_decimal: str | None
    custom_unit_min: AmountOut | None
    custom_unit_max: AmountOut | None
    custom_preset: AmountOut | None
    custom_unit_amount_suggestions: list[AmountOut] | None
    metadata: dict[str, Any] | None
    visibility: int
    nickname: str | None
    created_at: Timestamp
    updated_at: Timestamp
    organization_id: uuid.UUID
    livemode: bool


class PriceOut(PublicPriceOut):
    product: PublicProductOut


class ProductOut(PublicProductOut):
    default_price: PriceOut | None


class PriceFilters(ApiModel):
    is_active: bool | None = None
    type: PriceType | None = None
    product_id: uuid.UUID | None = None
    visibility: Visibility | None = None
    currency: Currency | None = None


class ProductFilters(ApiModel):
    is_active: bool | None = None
    visibility: Visibility | None = None
    url: Str500 | None = None
    price_types: str | None = None
    interval: Interval | None = None
    interval_count: Annotated[int, Field(ge=1, le=max(MAX_INTERVAL_COUNT.values()))] | None = None
    price_currency: Currency | None = None

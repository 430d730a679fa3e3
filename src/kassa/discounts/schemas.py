from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, StringConstraints, WithJsonSchema

from kassa.api.schemas import ApiModel, Name, OutModel, Str200
from kassa.api.types import Amount, AmountOut, Metadata, Timestamp
from kassa.money import Currency

PERCENT_SCALE = 10**4  # percentages are stored as ints scaled by 10^4: 12.5 % -> 125000
MAX_PERCENT_E4 = 100 * PERCENT_SCALE
MAX_REDEMPTIONS = 1_000_000_000
_CODE_RE = re.compile(r"[A-Za-z0-9_-]{2,20}")

CouponStatus = Literal["active", "expired", "disabled", "limit_reached"]


def parse_percent(value: Any) -> int:
    """A percentage as a JSON number or numeric string, exactly: 0 < x <= 100 with at most 4 decimals -> x * 10^4."""
    if isinstance(value, bool) or not isinstance(value, int | float | str) or len(str(value)) > 40:
        raise ValueError("must be a number")
    try:
        # str() of a float is its shortest round-tripping repr, i.e. the digits the client wrote in the JSON.
        exact = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not exact.is_finite() or exact <= 0 or exact > 100:
        raise ValueError("must be greater than 0 and at most 100")
    scaled = exact.scaleb(4)
    if scaled != scaled.to_integral_value():
        raise ValueError("must have at most 4 decimal places")
    return int(scaled)


def percent_json(percent_e4: int) -> int | float:
    """125000 -> 12.5 as a JSON number with exactly those digits.

    A percentage has at most 7 significant digits, so the float nearest to it prints back (shortest repr, which
    pydantic-core also uses) as the very same digits; tests check every one of the million possible values.
    """
    exact = Decimal(percent_e4).scaleb(-4)
    return int(exact) if exact == exact.to_integral_value() else float(exact)


def _positive(value: int) -> int:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _currency(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _check_code(value: str) -> str:
    if not _CODE_RE.fullmatch(value):
        raise ValueError("must be 2 to 20 characters: letters, digits, '_' or '-'")
    return value


def _as_utc(value: datetime) -> datetime:
    # A date-time without an offset is taken as UTC, as the list filters do.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


PercentE4 = Annotated[
    int,
    BeforeValidator(parse_percent),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 100, "example": 12.5}),
]
PercentOut = Annotated[int, PlainSerializer(percent_json), WithJsonSchema({"type": "number", "example": 12.5})]
AmountOff = Annotated[Amount, AfterValidator(_positive)]
CurrencyIn = Annotated[Currency, BeforeValidator(_currency)]
Code = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_check_code)]
Redemptions = Annotated[int, Field(ge=1, le=MAX_REDEMPTIONS)]
Instant = Annotated[datetime, AfterValidator(_as_utc)]


class PromotionCodeIn(ApiModel):
    code: Code
    expired_at: Instant | None = None
    max_redemptions: Redemptions | None = None
    metadata: Metadata | None = None


class PromotionCodeDataIn(ApiModel):
    data: list[PromotionCodeIn] = Field(min_length=1, max_length=1)


class CouponCreate(ApiModel):
    name: Name
    percent_off: PercentE4 | None = None
    amount_off: AmountOff | None = None
    currency: CurrencyIn | None = None
    max_redemptions: Redemptions | None = None
    redeem_by: Instant | None = None
    metadata: Metadata | None = None
    is_enable: bool = True
    promotion_code_data: PromotionCodeDataIn


class CouponUpdate(ApiModel):
    name: Name
    max_redemptions: Redemptions | None = None
    redeem_by: Instant | None = None
    metadata: Metadata | None = None
    is_enable: bool | None = None
    # Not updatable: declared only so that sending them is refused instead of silently ignored.
    percent_off: Any = None
    amount_off: Any = None
    currency: Any = None


class PromotionCodeOut(OutModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    code: str
    coupon_id: uuid.UUID
    is_active: bool
    expired_at: Timestamp | None
    max_redemptions: int | None
    times_redeemed: int
    created_at: Timestamp
    metadata: dict[str, Any] | None


class CouponOut(OutModel):
    id: uuid.UUID
    object: Literal["coupon"] = "coupon"
    organization_id: uuid.UUID
    name: str
    percent_off: PercentOut | None
    amount_off: AmountOut | None
    currency: str | None
    max_redemptions: int | None
    redeem_by: Timestamp | None
    is_enable: bool
    created_at: Timestamp
    updated_at: Timestamp
    metadata: dict[str, Any] | None
    is_archived: bool
    archived_at: Timestamp | None
    promotion_codes: list[PromotionCodeOut]
    status: CouponStatus
    times_redeemed: int
    livemode: bool


class CouponFilters(ApiModel):
    search_text: Str200 | None = None
    is_enable: bool | None = None
    is_archived: bool | None = None
    status: CouponStatus | None = None

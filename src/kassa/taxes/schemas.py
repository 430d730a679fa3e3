from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, StringConstraints, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from kassa.api.schemas import ApiModel, Name, OutModel, Str500
from kassa.api.types import Metadata, Timestamp
from kassa.taxes.models import PERCENTAGE_SCALE

TaxType = Literal["exclusive", "inclusive"]
Country = Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)]

PERCENTAGE_DECIMALS = 4
_MAX_PERCENTAGE_TEXT = 40
_NOT_A_PERCENTAGE = "must be a number between 0 and 100, as a JSON number or a numeric string"


def percentage_to_e4(value: Decimal) -> int:
    """The exact percentage scaled by 10^4 (7.25 -> 72500); ValueError if it has more than 4 decimal places.

    Integer arithmetic on the decimal's digits: Decimal operations round to the context's precision.
    """
    if not value.is_finite():
        raise ValueError(_NOT_A_PERCENTAGE)
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    coefficient = int("".join(map(str, digits)) or "0")
    if coefficient == 0:
        return 0
    shift = exponent + PERCENTAGE_DECIMALS
    if shift > _MAX_PERCENTAGE_TEXT:  # far beyond 100 anyway; do not build a huge power of ten
        raise ValueError("must be between 0 and 100")
    if -shift > len(digits):  # more decimal places than digits: the last digit is not zero
        raise ValueError(f"must have at most {PERCENTAGE_DECIMALS} decimal places")
    factor: int = 10 ** abs(shift)
    if shift >= 0:
        scaled = coefficient * factor
    else:
        if coefficient % factor:
            raise ValueError(f"must have at most {PERCENTAGE_DECIMALS} decimal places")
        scaled = coefficient // factor
    return -scaled if sign else scaled


def format_percentage_e4(value: int) -> str:
    """72500 -> "7.25", 1000000 -> "100", 1 -> "0.0001": the shortest exact decimal, never an exponent."""
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), PERCENTAGE_SCALE)
    digits = str(whole) if fraction == 0 else f"{whole}.{fraction:0{PERCENTAGE_DECIMALS}d}".rstrip("0")
    return sign + digits


def parse_percentage(value: Any) -> Decimal:
    """A number or numeric string, 0 to 100, at most 4 decimal places; floats are read by their shortest repr."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(_NOT_A_PERCENTAGE)
    # str(float) is the shortest text that reads back as the same float: 7.25 stays "7.25", 7.12345 "7.12345".
    text = value.strip() if isinstance(value, str) else str(value)
    if not text or len(text) > _MAX_PERCENTAGE_TEXT:
        raise ValueError(_NOT_A_PERCENTAGE)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(_NOT_A_PERCENTAGE) from None
    if not number.is_finite():
        raise ValueError(_NOT_A_PERCENTAGE)
    if number < 0 or number > 100:
        raise ValueError("must be between 0 and 100")
    return Decimal(format_percentage_e4(percentage_to_e4(number)))


_PERCENTAGE_DOC = "Percent, 0 to 100, at most 4 decimal places (7.25 means 7.25 %)."
_percentage_in_schema = WithJsonSchema(
    {
        "anyOf": [
            {"type": "number", "minimum": 0, "maximum": 100},
            {"type": "string", "example": "7.25"},
        ],
        "description": _PERCENTAGE_DOC + " A JSON number or a numeric string.",
        "example": 7.25,
    }
)
_percentage_out_schema = WithJsonSchema(
    {"type": "number", "minimum": 0, "maximum": 100, "description": _PERCENTAGE_DOC, "example": 7.25}
)
# Accepted as a JSON number or numeric string, kept as an exact Decimal.
Percentage = Annotated[Decimal, BeforeValidator(parse_percentage), _percentage_in_schema]


def _immutable(_value: Any) -> Any:
    raise ValueError("cannot be changed once the tax rate exists; create a new tax rate instead")


# Present on the update model only to refuse it by name: silently ignoring it would mislead the merchant.
Immutable = SkipJsonSchema[Annotated[Any, BeforeValidator(_immutable)]]


class TaxRateCreate(ApiModel):
    name: Name
    percentage: Percentage
    # Kassa's addition to Copperx's create body (Copperx always creates exclusive rates).
    type: TaxType = "exclusive"
    description: Str500 | None = None
    country: Country | None = None
    is_active: bool = True
    metadata: Metadata | None = None


class TaxRateUpdate(ApiModel):
    name: Name
    description: Str500 | None = None
    country: Country | None = None
    is_active: bool | None = None
    metadata: Metadata | None = None
    percentage: Immutable = None
    type: Immutable = None


class TaxRateOut(OutModel):
    id: uuid.UUID
    object: Literal["tax_rate"] = "tax_rate"
    name: str
    description: str | None
    country: str | None
    percentage: Annotated[Decimal, _percentage_out_schema]
    type: TaxType
    is_active: bool
    metadata: dict[str, Any] | None
    created_at: Timestamp
    updated_at: Timestamp
    organization_id: uuid.UUID
    livemode: bool

    def model_dump_json(self, **kwargs: Any) -> str:
        """JSON with `percentage` as a number with exactly its decimal digits (7.25, not "7.25" nor a float's).

        pydantic writes a Decimal as a string; going through a float would risk binary noise. So the rest of the
        object is serialized by pydantic and the exact number is appended as the last member.
        """
        excluded = set(kwargs.pop("exclude", None) or ())
        body = super().model_dump_json(exclude=excluded | {"percentage"}, **kwargs).rstrip()
        if "percentage" in excluded:
            return body
        number = format_percentage_e4(percentage_to_e4(self.percentage))
        return f'{body[:-1]}{"," if body[:-1].strip() != "{" else ""}"percentage":{number}}}'


class TaxRateFilters(ApiModel):
    is_active: bool | None = None
    type: TaxType | None = None
    country: Country | None = None

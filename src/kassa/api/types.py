"""Field types shared by every resource: amounts, metadata, timestamps, URLs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

MAX_AMOUNT = 10**15  # 10 million units at 8 decimals: a sane ceiling for one price
_INT_RE = re.compile(r"^-?[0-9]+$")


def parse_integer(value: Any) -> int:
    """Integers arrive as JSON numbers or numeric strings; floats and decimals are refused, never rounded."""
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        raise ValueError("must be an integer (amounts have 8 implied decimals: 1 unit = 100000000)")
    if isinstance(value, str) and _INT_RE.match(value.strip()) and len(value) <= 40:
        return int(value.strip())
    raise ValueError("must be an integer or a string of digits")


def _amount_bounds(value: int) -> int:
    if value < 0:
        raise ValueError("must not be negative")
    if value > MAX_AMOUNT:
        raise ValueError(f"must be at most {MAX_AMOUNT}")
    return value


_amount_schema = WithJsonSchema({"type": "string", "pattern": "^[0-9]+$", "example": "100000000"})
# An amount in 8-decimal units, accepted as number or string, always written as a string.
Amount = Annotated[
    int, BeforeValidator(parse_integer), AfterValidator(_amount_bounds), PlainSerializer(str), _amount_schema
]
# The same, for read models that were validated on the way in.
AmountOut = Annotated[int, PlainSerializer(str), _amount_schema]

MAX_METADATA_KEYS = 50
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500


def _check_metadata(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("must be an object of key/value pairs")
    if len(value) > MAX_METADATA_KEYS:
        raise ValueError(f"must have at most {MAX_METADATA_KEYS} keys")
    for key, item in value.items():
        if not key or len(key) > MAX_METADATA_KEY:
            raise ValueError(f"key '{key[:60]}' must be 1 to {MAX_METADATA_KEY} characters")
        if item is None or isinstance(item, bool | int):
            continue
        if not isinstance(item, str):
            raise ValueError(f"value of '{key}' must be a string, number or boolean")
        if len(item) > MAX_METADATA_VALUE:
            raise ValueError(f"value of '{key}' must be at most {MAX_METADATA_VALUE} characters")
    return value


Metadata = Annotated[dict[str, Any], BeforeValidator(_check_metadata)]


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and a Z, as JavaScript clients (and Copperx) write it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


Timestamp = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str)]


def _check_http_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(value) > 2048:
        raise ValueError("must be an absolute http(s) URL")
    if any(ch in value for ch in " \t\r\n<>\"'`"):
        raise ValueError("must be an absolute http(s) URL without spaces or quotes")
    return value


HttpUrl = Annotated[str, AfterValidator(_check_http_url)]


def _visibility(value: Any) -> Any:
    # The contract types visibility as a string enum of the numbers 10 and 20; clients send either form.
    if isinstance(value, str) and value.strip() in ("10", "20"):
        return int(value)
    return value


# Copperx's EntityVisibility: shown on the dashboard (10) or API-only (20). Kept and echoed.
Visibility = Annotated[Literal[10, 20], BeforeValidator(_visibility)]

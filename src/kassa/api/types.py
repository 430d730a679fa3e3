"""Field types shared by every resource: amounts, metadata, timestamps, URLs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

from kassa.money import MAX_UNIT_AMOUNT

_INT_RE = re.compile(r"^-?[0-9]+$")
MAX_SAFE_INTEGER = 2**53  # JavaScript's Number.MAX_SAFE_INTEGER + 1: every integer up to here round-trips exactly


def parse_integer(value: Any) -> int:
    """Integers arrive as JSON numbers or numeric strings. An integral float is that integer, as Copperx's server
    reads it (PHP's json_encode writes 2345000000.0); a fraction is refused, never rounded, and so is a float too
    large to be exact (beyond 2^53 a float no longer holds every integer)."""
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer (amounts have 8 implied decimals: 1 unit = 100000000)")
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError("must be an integer; one this large must be sent as an integer or a string, not a float")
        return int(value)
    if isinstance(value, str) and _INT_RE.match(value.strip()) and len(value) <= 40:
        return int(value.strip())
    raise ValueError("must be an integer or a string of digits")


def _amount_bounds(value: int) -> int:
    if value < 0:
        raise ValueError("must not be negative")
    if value > MAX_UNIT_AMOUNT:
        raise ValueError(f"must be at most {MAX_UNIT_AMOUNT}")
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
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, int):
            if abs(item) > MAX_SAFE_INTEGER:
                raise ValueError(
                    f"value of '{key}' must lie within ±{MAX_SAFE_INTEGER} (2^53, what JavaScript reads exactly);"
                    " send larger numbers as strings"
                )
            continue
        if isinstance(item, float):
            continue  # finite (the body guard refuses the rest), and given back as sent
        if not isinstance(item, str):
            raise ValueError(f"value of '{key}' must be a string, number or boolean")
        if len(item) > MAX_METADATA_VALUE:
            raise ValueError(f"value of '{key}' must be at most {MAX_METADATA_VALUE} characters")
    return value


Metadata = Annotated[dict[str, Any], BeforeValidator(_check_metadata)]


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and a Z, as JavaScript clients (and Copperx) write it."""
    # isoformat pads the year to four digits; strftime's %Y does not below year 1000 (glibc).
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


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

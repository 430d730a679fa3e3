"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import uuid_utils.compat
from sqlalchemy import BigInteger, DateTime, Dialect, Integer, Numeric, Text
from sqlalchemy.types import TypeDecorator


def new_id() -> uuid.UUID:
    """A time-ordered UUIDv7: ids sort by creation, which keeps B-tree inserts local."""
    return uuid_utils.compat.uuid7()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite would otherwise hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        # Millisecond precision, the precision of the API's timestamps: a createdAt read from a response and
        # passed back as a filter must compare equal to the stored value.
        value = value.astimezone(UTC)
        value = value.replace(microsecond=value.microsecond // 1000 * 1000)
        # SQLite compares datetimes as text, so store one fixed naive-UTC format there.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class RawAmount(TypeDecorator[int]):
    """An exact integer of any size (on-chain raw token amounts reach 2**256 - 1).

    PostgreSQL keeps it as NUMERIC(78, 0); SQLite has no such type, so it is stored as decimal text there and
    never compared in SQL (sums are made in Python).
    """

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(78, 0, asdecimal=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("raw amounts are ints")
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int(value)


# API amounts: integers with 8 decimals; 64 bits hold 92 billion units.
Money = BigInteger
# SQLite only auto-increments INTEGER PRIMARY KEY; plain ints suffice for counters.
Counter = Integer

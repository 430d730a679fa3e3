"""Copperx page pagination: `page`, `limit`, `createdAt[gt|gte|lt|lte]`, `ids`; newest first."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from kassa.api.types import format_timestamp
from kassa.errors import BadRequest, validation_messages

MAX_LIMIT = 200
# Offset pagination reads and skips every row before the page: page × limit stays within this, which keeps the
# offset far inside BIGINT and a deep page's cost bounded. Deeper data is reached by narrowing `createdAt`.
MAX_OFFSET_ROWS = 10_000_000
MAX_IDS = 1_000  # ids per query: far below the bound-parameter limits of SQLite (32,766) and PostgreSQL (65,535)
# Timestamps in queries: what converts to UTC without leaving datetime's range (years 1 to 9999) on both databases.
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
DATE_OPS = ("gt", "gte", "lt", "lte")
T = TypeVar("T")
F = TypeVar("F", bound=BaseModel)


@dataclass(frozen=True)
class PageQuery:
    page: int = 1
    limit: int = MAX_LIMIT
    created_at: dict[str, datetime] = field(default_factory=dict)
    ids: list[uuid.UUID] = field(default_factory=list)

    def echo(self) -> dict[str, Any]:
        out: dict[str, Any] = {"page": self.page, "limit": self.limit}
        if self.created_at:
            out["createdAt"] = {op: format_timestamp(v) for op, v in self.created_at.items()}
        if self.ids:
            out["ids"] = [str(i) for i in self.ids]
        return out


def parse_page_query(params: QueryParams) -> PageQuery:
    errors: list[str] = []
    limit = _positive_int(params.get("limit"), "limit", MAX_LIMIT, MAX_LIMIT, errors)
    deepest = MAX_OFFSET_ROWS // limit
    why = f" with limit {limit} (page × limit ≤ {MAX_OFFSET_ROWS})"
    page = _positive_int(params.get("page"), "page", 1, deepest, errors, why)
    created_at = parse_date_filter(params, "createdAt", errors)
    ids = parse_ids(params, errors)
    if errors:
        raise BadRequest(errors)
    return PageQuery(page=page, limit=limit, created_at=created_at, ids=ids)


def parse_ids(params: QueryParams, errors: list[str]) -> list[uuid.UUID]:
    """`ids` repeated or comma-separated (also `ids[]`), at most MAX_IDS of them."""
    ids: list[uuid.UUID] = []
    for raw in params.getlist("ids") + params.getlist("ids[]"):
        for part in raw.split(","):
            if not part.strip():
                continue
            if len(ids) == MAX_IDS:
                errors.append(f"ids: at most {MAX_IDS} ids")
                return ids
            try:
                ids.append(uuid.UUID(part.strip()))
            except ValueError:
                errors.append(f"ids: '{part.strip()[:60]}' is not a UUID")
                return ids  # one message, however many bad ids
    return ids


def parse_date_filter(params: QueryParams, name: str, errors: list[str]) -> dict[str, datetime]:
    out: dict[str, datetime] = {}
    for op in DATE_OPS:
        raw = params.get(f"{name}[{op}]")
        if raw is not None:
            moment = parse_timestamp(raw, f"{name}.{op}", errors)
            if moment is not None:
                out[op] = moment
    return out


def parse_timestamp(raw: str, name: str, errors: list[str]) -> datetime | None:
    """An ISO-8601 date or date-time from a query, in UTC (UTC when it has no offset); None and an error if bad.

    A valid offset can push a moment out of datetime's range (`0001-01-01T00:00:00+14:00` is before year 1 in
    UTC): that is the client's error, not an overflow deeper down.
    """
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        errors.append(f"{name}: must be an ISO-8601 date or date-time")
        return None
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        errors.append(f"{name}: must be between {format_timestamp(EARLIEST)} and {format_timestamp(LATEST)} in UTC")
        return None


def _positive_int(raw: str | None, name: str, default: int, maximum: int, errors: list[str], why: str = "") -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        errors.append(f"{name}: must be an integer")
        return default
    if value < 1 or value > maximum:
        errors.append(f"{name}: must be between 1 and {maximum}{why}")
        return default
    return value


def parse_filters(params: QueryParams, model: type[F]) -> F:
    """Validate resource-specific query filters with a pydantic model (aliases are the query names)."""
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        alias = info.alias or name
        values = params.getlist(alias) + params.getlist(f"{alias}[]")
        if not values:
            continue
        data[alias] = values if _is_list(info.annotation) else values[-1]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(validation_messages(exc.errors())) from exc


def _is_list(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) is list or "list[" in str(annotation)


def paginate(
    db: Session,
    stmt: Select[T],
    model: Any,
    query: PageQuery,
    serialize: Callable[[T], Any],
    extra_echo: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Apply the common filters, count, order newest first (id breaks ties) and build the envelope."""
    stmt = where_created_and_ids(stmt, model, query.created_at, query.ids)
    count = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows: Sequence[T] = db.scalars(
        stmt.order_by(model.created_at.desc(), model.id.desc())
        .offset((query.page - 1) * query.limit)
        .limit(query.limit)
    ).all()
    return envelope(query, count, [serialize(row) for row in rows], extra_echo)


def where_created_and_ids(
    stmt: Select[T], model: Any, created_at: dict[str, datetime], ids: Sequence[uuid.UUID]
) -> Select[T]:
    """The common filters: `createdAt[gt|gte|lt|lte]` on `model.created_at`, `ids` on `model.id`."""
    column = model.created_at
    for op, moment in created_at.items():
        stmt = stmt.where(
            {"gt": column > moment, "gte": column >= moment, "lt": column < moment, "lte": column <= moment}[op]
        )
    if ids:
        stmt = stmt.where(model.id.in_(ids))
    return stmt


def paginate_items(query: PageQuery, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The same envelope over a list already in memory (static resources such as chains)."""
    if query.ids:
        wanted = {str(i) for i in query.ids}
        items = [i for i in items if str(i["id"]) in wanted]
    start = (query.page - 1) * query.limit
    return envelope(query, len(items), list(items[start : start + query.limit]))


def envelope(query: PageQuery, count: int, data: list[Any], extra_echo: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "page": query.page,
        "limit": query.limit,
        "count": count,
        "hasMore": query.page * query.limit < count,
        "query": query.echo() | (extra_echo or {}),
        "data": data,
    }

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
    page = _positive_int(params.get("page"), "page", 1, None, errors)
    limit = _positive_int(params.get("limit"), "limit", MAX_LIMIT, MAX_LIMIT, errors)
    created_at = parse_date_filter(params, "createdAt", errors)
    ids: list[uuid.UUID] = []
    for raw in params.getlist("ids") + params.getlist("ids[]"):
        for part in raw.split(","):
            if not part.strip():
                continue
            try:
                ids.append(uuid.UUID(part.strip()))
            except ValueError:
                errors.append(f"ids: '{part.strip()[:60]}' is not a UUID")
    if errors:
        raise BadRequest(errors)
    return PageQuery(page=page, limit=limit, created_at=created_at, ids=ids)


def parse_date_filter(params: QueryParams, name: str, errors: list[str]) -> dict[str, datetime]:
    out: dict[str, datetime] = {}
    for op in DATE_OPS:
        raw = params.get(f"{name}[{op}]")
        if raw is None:
            continue
        try:
            moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            errors.append(f"{name}.{op}: must be an ISO-8601 date or date-time")
            continue
        out[op] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return out


def _positive_int(raw: str | None, name: str, default: int, maximum: int | None, errors: list[str]) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        errors.append(f"{name}: must be an integer")
        return default
    if value < 1 or (maximum is not None and value > maximum):
        errors.append(f"{name}: must be between 1 and {maximum}" if maximum else f"{name}: must be at least 1")
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
    for op, moment in query.created_at.items():
        column = model.created_at
        stmt = stmt.where(
            {"gt": column > moment, "gte": column >= moment, "lt": column < moment, "lte": column <= moment}[op]
        )
    if query.ids:
        stmt = stmt.where(model.id.in_(query.ids))
    count = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows: Sequence[T] = db.scalars(
        stmt.order_by(model.created_at.desc(), model.id.desc())
        .offset((query.page - 1) * query.limit)
        .limit(query.limit)
    ).all()
    return envelope(query, count, [serialize(row) for row in rows], extra_echo)


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

"""Base models: camelCase on the wire, snake_case in Python, unknown fields ignored (Copperx clients may send
fields we do not use, and must keep working)."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel
from starlette.responses import Response

Str200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Str500 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ApiModel(BaseModel):
    """Every request body. Lenient where Copperx's server is (its clients rely on it): a JSON number where text
    is expected is taken as its text (an order id sent as 1042 is "1042"). Integer amounts take integral floats
    (`kassa.api.types.parse_integer`), and metadata any JSON number."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", coerce_numbers_to_str=True
    )


class OutModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class AddressIn(ApiModel):
    line1: Str200 | None = None
    line2: Str200 | None = None
    city: Str200 | None = None
    state: Str200 | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    country: Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)] | None = None


class SuccessOut(OutModel):
    message: str
    status_code: int


def respond(model: BaseModel | dict[str, object], status_code: int = 200) -> Response:
    """Serialize with pydantic-core straight to bytes (endpoints declare response_model for the docs only)."""
    body = model.model_dump_json(by_alias=True) if isinstance(model, BaseModel) else _page_json(model)
    return Response(body, status_code=status_code, media_type="application/json")


def _page_json(page: dict[str, object]) -> bytes:
    data = page.get("data")
    if not isinstance(data, list):
        return json.dumps(page, separators=(",", ":")).encode()
    # Items encoded one by one and joined once, straight to bytes: a large page is not copied three times.
    head = json.dumps({k: v for k, v in page.items() if k != "data"}, separators=(",", ":"))
    parts = [head[:-1].encode(), b',"data":[' if len(head) > 2 else b'"data":[']
    for index, item in enumerate(data):
        if index:
            parts.append(b",")
        if isinstance(item, BaseModel):
            parts.append(item.model_dump_json(by_alias=True).encode())
        else:
            parts.append(json.dumps(item, separators=(",", ":")).encode())
    parts.append(b"]}")
    return b"".join(parts)

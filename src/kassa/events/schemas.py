"""Wire shapes of the events API (our addition): Copperx's webhook envelope plus delivery status."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from kassa.api.schemas import ApiModel, OutModel
from kassa.api.types import Timestamp


def _split_commas(value: Any) -> Any:
    if isinstance(value, list):
        return [part.strip() for item in value for part in str(item).split(",") if part.strip()]
    return value


class EventFilters(ApiModel):
    type: Annotated[list[str], BeforeValidator(_split_commas), Field(max_length=50)] | None = None
    # true: every delivery of the event succeeded; false: at least one has not (yet).
    delivery_success: bool | None = None
    object_id: uuid.UUID | None = None


class EventOut(OutModel):
    id: uuid.UUID
    object: Literal["event"] = "event"
    api_version: str
    created: int  # epoch milliseconds, as in the webhook envelope
    type: str
    data: dict[str, Any]
    created_at: Timestamp
    organization_id: uuid.UUID
    livemode: bool
    # Deliveries not finished yet (first attempt or retries to come).
    pending_webhooks: int


class AttemptOut(OutModel):
    id: uuid.UUID
    object: Literal["webhook_attempt"] = "webhook_attempt"
    number: int
    attempted_at: Timestamp
    succeeded: bool
    status_code: int | None
    latency_ms: int
    response_body: str | None
    error: str | None


class DeliveryOut(OutModel):
    id: uuid.UUID
    object: Literal["webhook_delivery"] = "webhook_delivery"
    webhook_endpoint_id: uuid.UUID
    url: str
    kind: str
    status: str
    attempt_count: int
    next_attempt_at: Timestamp | None
    first_attempt_at: Timestamp | None
    last_attempt_at: Timestamp | None
    last_status_code: int | None
    last_error: str | None
    created_at: Timestamp
    attempts: list[AttemptOut]


class EventDetailOut(EventOut):
    deliveries: list[DeliveryOut]


class ResendIn(ApiModel):
    webhook_endpoint_id: uuid.UUID | None = None

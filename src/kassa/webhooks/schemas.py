"""Wire shapes of webhook endpoints (Copperx's WebhookEndpointDto and its create/update bodies)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from kassa.api.schemas import ApiModel, OutModel
from kassa.api.types import HttpUrl, Timestamp

# Copperx's WebhookEvents enum: what an endpoint may subscribe to ("*" = every event, ours included).
WEBHOOK_EVENTS: tuple[str, ...] = (
    "*",
    "withdrawal_address.created",
    "withdrawal_address.updated",
    "withdrawal_address.deleted",
    "checkout_session.completed",
    "checkout_session.expired",
    "checkout_session.canceled",
    "customer.subscription.created",
    "customer.subscription.started",
    "customer.subscription.deleted",
    "customer.subscription.past_due",
    "customer.subscription.unpaid",
    "customer.subscription.incomplete_expired",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.succeeded",
    "invoice.finalized",
    "invoice.paid",
    "invoice.marked_as_paid",
    "invoice.marked_uncollectible",
    "invoice.payment_failed",
)
_KNOWN = frozenset(WEBHOOK_EVENTS)
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class WebhookEventsIn(ApiModel):
    events: list[str] = Field(min_length=1, max_length=len(WEBHOOK_EVENTS))

    @field_validator("events")
    @classmethod
    def _known(cls, events: list[str]) -> list[str]:
        for event in events:
            if event not in _KNOWN:
                raise ValueError(f"'{event[:80]}' is not an event type; use '*' or one of the WebhookEvents enum")
        # Keep the order the merchant gave, without repeats.
        return list(dict.fromkeys(events))


class WebhookEndpointCreate(ApiModel):
    description: Description
    url: HttpUrl
    enabled_events: WebhookEventsIn


class WebhookEndpointUpdate(ApiModel):
    """PUT: the contract lists description, url and enabledEvents as required; we change only what is sent,
    so a client that sends everything and one that sends a single field both work."""

    description: Description | None = None
    url: HttpUrl | None = None
    is_disabled: bool | None = None
    enabled_events: WebhookEventsIn | None = None


class WebhookEventsOut(OutModel):
    events: list[str]


class WebhookEndpointOut(OutModel):
    id: uuid.UUID
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    description: str
    url: str
    # The whole secret on create and regenerate only; otherwise a redacted hint (`whsec_…abcd`).
    secret: str
    is_disabled: bool
    disabled_reason: str | None
    enabled_events: WebhookEventsOut
    created_at: Timestamp
    updated_at: Timestamp
    organization_id: uuid.UUID
    livemode: bool


class WebhookEndpointFilters(ApiModel):
    is_disabled: bool | None = None


class WebhookTestOut(OutModel):
    message: str
    status_code: int
    event_id: uuid.UUID

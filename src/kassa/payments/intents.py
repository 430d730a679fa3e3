"""Payment intents: a checkout session's payment, addressed by its own id (`session.paymentIntent.id`)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from kassa.api.routing import ApiRoute, AppSettings, Caller, Db, Now, parse_id
from kassa.api.schemas import ApiModel, Str500, respond
from kassa.checkout.serialize import session_dict
from kassa.checkout.service.refund import mark_refunded

router = APIRouter(prefix="/api/v1/payment-intents", tags=["Payment intents"], route_class=ApiRoute)


class MarkRefundedIn(ApiModel):
    mark_refunded_comment: Str500 | None = None


@router.post(
    "/{payment_intent_id}/mark-as-refund",
    summary="Record a refund made outside Kassa",
    description="Kassa sends nothing back: the merchant refunded the buyer themselves. Each payment intent is "
    "marked once; the session shows `isMarkRefunded`, and `payment_intent.marked_as_refunded` is sent.",
)
def mark_as_refund(
    payment_intent_id: str, body: MarkRefundedIn, db: Db, caller: Caller, clock: Now, settings: AppSettings
) -> Response:
    intent_id = parse_id(payment_intent_id, "Payment intent")
    comment = body.mark_refunded_comment or None
    session = mark_refunded(db, clock, caller, intent_id, comment, public_url=settings.public_url)
    intent = session_dict(db, settings.public_url, session)["paymentIntent"]
    return respond(intent | {"checkoutSessionId": str(session.id)})

"""POST /api/v1/payment-intents/{id}/mark-as-refund: a refund made outside Kassa, recorded once (issue #12)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from contract import assert_matches_operation
from factories import make_session
from kassa.events.service import events_for
from support import LiveServer, Merchant
from test_checkout_lifecycle import complete
from test_webhooks_delivery import (  # noqa: F401  # forget_endpoints is an autouse fixture
    Receiver,
    forget_endpoints,
    make_endpoint,
)

EVENT = "payment_intent.marked_as_refunded"


def paid_session(live: LiveServer, shop: Merchant) -> dict[str, Any]:
    session = make_session(shop)
    assert complete(live, session["id"])
    return session


def mark(shop: Merchant, intent_id: str, body: dict[str, Any] | None = None) -> Any:
    return shop.http.post(f"/api/v1/payment-intents/{intent_id}/mark-as-refund", json={} if body is None else body)


def refund_events(live: LiveServer, intent_id: str) -> list[Any]:
    with live.database.read_sessions() as db:
        return events_for(db, uuid.UUID(intent_id), EVENT)


def test_marking_shows_on_the_intent_the_session_and_in_one_event(live: LiveServer, shop: Merchant) -> None:
    session = paid_session(live, shop)
    intent_id = session["paymentIntent"]["id"]
    before = shop.http.get(f"/api/v1/checkout/sessions/{session['id']}").json()
    assert (before["isMarkRefunded"], before["paymentIntent"]["isMarkRefunded"]) == (False, False)

    resp = mark(shop, intent_id, {"markRefundedComment": "Refunded from our treasury wallet, order 1042"})
    assert resp.status_code == 200, resp.text
    intent = resp.json()
    assert_matches_operation(intent, "PaymentIntentController_markAsRefunded")
    assert (intent["id"], intent["checkoutSessionId"], intent["status"]) == (intent_id, session["id"], "succeeded")
    assert intent["isMarkRefunded"] is True
    assert intent["markRefundedComment"] == "Refunded from our treasury wallet, order 1042"
    assert intent["markRefundedAt"] is not None

    after = shop.http.get(f"/api/v1/checkout/sessions/{session['id']}").json()
    assert_matches_operation(after, "SessionsController_findOne")
    assert after["isMarkRefunded"] is True
    assert after["status"] == "complete"
    for field in ("isMarkRefunded", "markRefundedAt", "markRefundedComment"):
        assert after["paymentIntent"][field] == intent[field], field

    [event] = refund_events(live, intent_id)
    assert event.object_type == "payment_intent"
    assert event.data["isMarkRefunded"] is True
    assert event.data["checkoutSessionId"] == session["id"]
    assert event.data["markRefundedComment"] == intent["markRefundedComment"]


def test_an_intent_is_marked_once(live: LiveServer, shop: Merchant) -> None:
    session = paid_session(live, shop)
    intent_id = session["paymentIntent"]["id"]
    assert mark(shop, intent_id).json()["markRefundedComment"] is None  # the comment is optional
    again = mark(shop, intent_id, {"markRefundedComment": "twice"})
    assert again.status_code == 400
    assert "already marked as refunded" in str(again.json()["message"])
    assert len(refund_events(live, intent_id)) == 1
    kept = shop.http.get(f"/api/v1/checkout/sessions/{session['id']}").json()["paymentIntent"]
    assert kept["markRefundedComment"] is None


def test_concurrent_marks_record_one_refund(live: LiveServer, shop: Merchant) -> None:
    intent_id = paid_session(live, shop)["paymentIntent"]["id"]
    path = f"/api/v1/payment-intents/{intent_id}/mark-as-refund"
    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(lambda _: shop.post_alone(path, {}).status_code, range(8)))
    assert codes == [200] + [400] * 7
    assert len(refund_events(live, intent_id)) == 1


def test_an_unpaid_intent_cannot_be_marked(live: LiveServer, shop: Merchant) -> None:
    session = make_session(shop)
    resp = mark(shop, session["paymentIntent"]["id"])
    assert resp.status_code == 400
    body = resp.json()
    assert (body["statusCode"], body["error"]) == (400, "Bad Request")
    assert "checkout session is open" in str(body["message"])
    assert refund_events(live, session["paymentIntent"]["id"]) == []
    assert shop.http.get(f"/api/v1/checkout/sessions/{session['id']}").json()["isMarkRefunded"] is False


def test_another_organizations_or_unknown_intent_is_not_found(
    live: LiveServer, shop: Merchant, other_shop: Merchant
) -> None:
    session = paid_session(live, shop)
    for intent_id in (session["paymentIntent"]["id"], str(uuid.uuid4()), "pi_1042"):
        resp = mark(other_shop, intent_id)
        assert resp.status_code == 404, intent_id
        assert resp.json()["error"] == "Not Found"
    # The session's own id is not its payment intent's id.
    assert mark(shop, session["id"]).status_code == 404
    assert shop.http.get(f"/api/v1/checkout/sessions/{session['id']}").json()["isMarkRefunded"] is False


@pytest.mark.parametrize(
    "body",
    [{"markRefundedComment": "x" * 501}, {"markRefundedComment": ["a list"]}, {"markRefundedComment": {}}],
)
def test_a_bad_comment_is_a_400_naming_it(live: LiveServer, shop: Merchant, body: dict[str, Any]) -> None:
    intent_id = paid_session(live, shop)["paymentIntent"]["id"]
    resp = mark(shop, intent_id, body)
    assert resp.status_code == 400, resp.text
    assert any(m.startswith("markRefundedComment: ") for m in resp.json()["message"]), resp.json()
    assert refund_events(live, intent_id) == []


def test_the_refund_event_is_delivered_to_endpoints_taking_every_event(live: LiveServer, shop: Merchant) -> None:
    # Ours, not in Copperx's WebhookEvents enum: like Kassa's other own events, it goes to `*` endpoints only.
    assert shop.http.post("/api/v1/webhook-endpoints", json=endpoint_body([EVENT], "/x")).status_code == 400
    with Receiver() as everything_receiver, Receiver() as completed_receiver:
        everything = make_endpoint(shop, everything_receiver.url, ["*"])
        make_endpoint(shop, completed_receiver.url, ["checkout_session.completed"])
        intent_id = paid_session(live, shop)["paymentIntent"]["id"]
        assert mark(shop, intent_id, {"markRefundedComment": "sent back"}).status_code == 200
        [event] = refund_events(live, intent_id)
        [request] = everything_receiver.wait_for(1, str(event.id))
        completed_receiver.wait_for(1)
    body = request.json()
    assert (body["type"], body["data"]["object"]["id"]) == (EVENT, intent_id)
    assert body["data"]["object"]["markRefundedComment"] == "sent back"
    assert request.headers["x-webhook-token"] == everything["id"]
    assert all(r.json()["type"] != EVENT for r in completed_receiver.received())


def endpoint_body(events: list[str], path: str) -> dict[str, Any]:
    return {"description": "refunds", "url": f"https://shop.example.com{path}", "enabledEvents": {"events": events}}

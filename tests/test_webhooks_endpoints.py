"""The webhook endpoints API, checked against the Copperx contract."""

from __future__ import annotations

from typing import Any

import pytest

from contract import assert_matches_operation
from kassa.webhooks import verify
from support import LiveServer, Merchant
from test_webhooks_delivery import (  # noqa: F401  # forget_endpoints is an autouse fixture
    Receiver,
    Reply,
    emit_event,
    event_detail,
    forget_endpoints,
    make_endpoint,
    wait_for_attempts,
)

BODY = {
    "description": "Orders",
    "url": "https://shop.example.com/hooks/kassa?src=1",
    "enabledEvents": {"events": ["checkout_session.completed", "checkout_session.expired"]},
}


def test_create_get_list_update_regenerate_delete(shop: Merchant) -> None:
    resp = shop.http.post("/api/v1/webhook-endpoints", json=BODY)
    assert resp.status_code == 200, resp.text
    created = resp.json()
    assert_matches_operation(created, "WebhookEndpointController_create")
    assert (created["url"], created["description"], created["isDisabled"]) == (BODY["url"], "Orders", False)
    assert created["enabledEvents"] == BODY["enabledEvents"]
    assert created["secret"].startswith("whsec_")
    assert len(created["secret"]) > 40
    endpoint_id = created["id"]

    got = shop.http.get(f"/api/v1/webhook-endpoints/{endpoint_id}").json()
    assert_matches_operation(got, "WebhookEndpointController_get")
    # The secret is shown in full on create and regenerate only.
    assert got["secret"] != created["secret"]
    assert got["secret"] == f"whsec_…{created['secret'][-4:]}"
    assert {k: v for k, v in got.items() if k != "secret"} == {k: v for k, v in created.items() if k != "secret"}

    listed = shop.http.get("/api/v1/webhook-endpoints").json()
    assert_matches_operation(listed, "WebhookEndpointController_getAll")
    assert [e["id"] for e in listed["data"]] == [endpoint_id]
    assert created["secret"] not in str(listed)

    updated = shop.http.put(
        f"/api/v1/webhook-endpoints/{endpoint_id}",
        json={"description": "All", "url": "http://127.0.0.1:9/x", "enabledEvents": {"events": ["*"]}},
    )
    assert updated.status_code == 200, updated.text
    assert_matches_operation(updated.json(), "WebhookEndpointController_update")
    assert (updated.json()["description"], updated.json()["enabledEvents"]["events"]) == ("All", ["*"])
    partial = shop.http.put(f"/api/v1/webhook-endpoints/{endpoint_id}", json={"isDisabled": True}).json()
    assert (partial["isDisabled"], partial["description"], partial["url"]) == (True, "All", "http://127.0.0.1:9/x")
    assert partial["disabledReason"] == "disabled by the merchant"
    assert [e["id"] for e in shop.http.get("/api/v1/webhook-endpoints?isDisabled=true").json()["data"]] == [endpoint_id]
    assert shop.http.get("/api/v1/webhook-endpoints?isDisabled=false").json()["data"] == []
    enabled = shop.http.put(f"/api/v1/webhook-endpoints/{endpoint_id}", json={"isDisabled": False}).json()
    assert (enabled["isDisabled"], enabled["disabledReason"]) == (False, None)

    regenerated = shop.http.post(f"/api/v1/webhook-endpoints/{endpoint_id}/regenerate")
    assert regenerated.status_code == 200, regenerated.text
    assert_matches_operation(regenerated.json(), "WebhookEndpointController_regenerate")
    assert regenerated.json()["secret"] not in (created["secret"], got["secret"])
    assert regenerated.json()["secret"].startswith("whsec_")

    deleted = shop.http.delete(f"/api/v1/webhook-endpoints/{endpoint_id}")
    assert deleted.status_code == 200
    assert_matches_operation(deleted.json(), "WebhookEndpointController_delete")
    assert shop.http.get(f"/api/v1/webhook-endpoints/{endpoint_id}").status_code == 404
    assert shop.http.get("/api/v1/webhook-endpoints").json()["data"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (BODY | {"url": "ftp://shop.example.com/hooks"}, "url"),
        (BODY | {"url": "/hooks"}, "url"),
        (BODY | {"url": "https://"}, "url"),
        ({k: v for k, v in BODY.items() if k != "url"}, "url"),
        ({k: v for k, v in BODY.items() if k != "description"}, "description"),
        ({k: v for k, v in BODY.items() if k != "enabledEvents"}, "enabledEvents"),
        (BODY | {"enabledEvents": {"events": []}}, "enabledEvents.events"),
        (BODY | {"enabledEvents": {"events": ["checkout_session.paid"]}}, "enabledEvents.events"),
        (BODY | {"enabledEvents": ["*"]}, "enabledEvents"),
        (BODY | {"description": "x" * 501}, "description"),
    ],
)
def test_validation_errors_name_the_field(shop: Merchant, body: dict[str, Any], field: str) -> None:
    resp = shop.http.post("/api/v1/webhook-endpoints", json=body)
    assert resp.status_code == 400, resp.text
    messages = resp.json()["message"]
    assert any(m.startswith(f"{field}: ") for m in messages), messages


def test_update_validates_too(shop: Merchant) -> None:
    endpoint = make_endpoint(shop, "https://shop.example.com/hooks")
    resp = shop.http.put(f"/api/v1/webhook-endpoints/{endpoint['id']}", json={"url": "javascript:alert(1)"})
    assert resp.status_code == 400
    assert resp.json()["message"][0].startswith("url: ")
    resp = shop.http.put(f"/api/v1/webhook-endpoints/{endpoint['id']}", json={"enabledEvents": {"events": ["x"]}})
    assert resp.status_code == 400
    assert resp.json()["message"][0].startswith("enabledEvents.events: ")


def test_another_organizations_endpoints_and_events_are_not_found(
    live: LiveServer, shop: Merchant, other_shop: Merchant
) -> None:
    endpoint = make_endpoint(shop, "https://shop.example.com/hooks")
    event_id = emit_event(live, shop)
    base = f"/api/v1/webhook-endpoints/{endpoint['id']}"
    assert other_shop.http.get(base).status_code == 404
    assert other_shop.http.put(base, json={"description": "mine now"}).status_code == 404
    assert other_shop.http.post(f"{base}/regenerate").status_code == 404
    assert other_shop.http.post(f"{base}/test").status_code == 404
    assert other_shop.http.delete(base).status_code == 404
    assert other_shop.http.get("/api/v1/webhook-endpoints").json()["data"] == []
    assert other_shop.http.get(f"/api/v1/events/{event_id}").status_code == 404
    assert other_shop.http.post(f"/api/v1/events/{event_id}/resend").status_code == 404
    assert other_shop.http.get("/api/v1/events").json()["data"] == []
    # Nor can one organization point a resend at another's endpoint.
    own = emit_event(live, other_shop)
    resp = other_shop.http.post(f"/api/v1/events/{own}/resend", json={"webhookEndpointId": endpoint["id"]})
    assert resp.status_code == 404
    assert shop.http.get(base).json()["description"] == "test"
    assert shop.http.get("/api/v1/webhook-endpoints/not-a-uuid").status_code == 404


def test_the_test_event_is_sent_now_even_to_a_disabled_endpoint(live: LiveServer, shop: Merchant) -> None:
    with Receiver() as receiver:
        endpoint = make_endpoint(shop, receiver.url, ["checkout_session.completed"])
        watcher = make_endpoint(shop, receiver.url + "/all", ["*"])
        shop.http.put(f"/api/v1/webhook-endpoints/{endpoint['id']}", json={"isDisabled": True})
        resp = shop.http.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/test")
        assert resp.status_code == 200, resp.text
        assert_matches_operation(resp.json(), "WebhookEndpointController_test")
        event_id = resp.json()["eventId"]
        [request] = receiver.wait_for(1)
        delivery = wait_for_attempts(shop, event_id, endpoint["id"], 1)

    event = request.json()
    assert (event["id"], event["type"]) == (event_id, "webhook_endpoint.test")
    assert request.path == "/hooks"  # to this endpoint only, not to the one subscribed to everything
    assert event["data"]["object"]["id"] == endpoint["id"]
    assert verify(request.body, request.headers, endpoint["secret"], now=live.clock.now().timestamp())
    assert (delivery["kind"], delivery["status"]) == ("test", "succeeded")
    assert [d["webhookEndpointId"] for d in event_detail(shop, event_id)["deliveries"]] == [endpoint["id"]]
    assert watcher["id"] != endpoint["id"]


def test_a_failed_test_is_not_retried(live: LiveServer, shop: Merchant) -> None:
    with Receiver(lambda _r, _n: Reply(503)) as receiver:
        endpoint = make_endpoint(shop, receiver.url)
        event_id = shop.http.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/test").json()["eventId"]
        delivery = wait_for_attempts(shop, event_id, endpoint["id"], 1)
    assert (delivery["status"], delivery["nextAttemptAt"], delivery["lastStatusCode"]) == ("failed", None, 503)


def test_disabling_or_deleting_an_endpoint_cancels_what_was_waiting(live: LiveServer, shop: Merchant) -> None:
    with Receiver(lambda _r, _n: Reply(500)) as receiver:
        disabled = make_endpoint(shop, receiver.url, ["checkout_session.completed"])
        deleted = make_endpoint(shop, receiver.url + "/2", ["checkout_session.completed"])
        event_id = emit_event(live, shop)
        wait_for_attempts(shop, event_id, disabled["id"], 1)
        wait_for_attempts(shop, event_id, deleted["id"], 1)
    shop.http.put(f"/api/v1/webhook-endpoints/{disabled['id']}", json={"isDisabled": True})
    shop.http.delete(f"/api/v1/webhook-endpoints/{deleted['id']}")
    deliveries = {d["webhookEndpointId"]: d for d in event_detail(shop, event_id)["deliveries"]}
    assert deliveries[disabled["id"]]["status"] == "canceled"
    assert deliveries[disabled["id"]]["lastError"] == "endpoint disabled: disabled by the merchant"
    assert deliveries[deleted["id"]]["status"] == "canceled"
    assert deliveries[deleted["id"]]["lastError"] == "endpoint deleted"
    # A disabled endpoint gets nothing new until it is enabled again.
    later = emit_event(live, shop)
    assert event_detail(shop, later)["deliveries"] == []
    shop.http.put(f"/api/v1/webhook-endpoints/{disabled['id']}", json={"isDisabled": False})
    again = emit_event(live, shop)
    assert [d["webhookEndpointId"] for d in event_detail(shop, again)["deliveries"]] == [disabled["id"]]


def test_endpoints_per_organization_are_bounded(shop: Merchant) -> None:
    for i in range(16):
        make_endpoint(shop, f"https://shop.example.com/hooks/{i}")
    resp = shop.http.post("/api/v1/webhook-endpoints", json=BODY)
    assert resp.status_code == 400
    assert "at most 16" in resp.json()["message"][0]

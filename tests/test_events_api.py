"""The events API (list, filters, detail with attempts, resend), retention, and the replay CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from kassa.clock import FrozenClock
from kassa.events.service import emit
from kassa.webhooks.config import DeliveryConfig
from kassa.webhooks.retention import purge_old_events
from support import LiveServer, Merchant
from test_webhooks_delivery import (  # noqa: F401  # forget_endpoints is an autouse fixture
    Received,
    Receiver,
    Reply,
    emit_event,
    event_detail,
    forget_endpoints,
    make_endpoint,
    wait_for_attempts,
    wait_until,
)

HELD_SECONDS = 0.3


def test_list_filters_and_detail(live: LiveServer, shop: Merchant) -> None:
    def respond(request: Received, _n: int) -> Reply:
        if b"fails" not in request.body:
            return Reply(200)
        time.sleep(HELD_SECONDS)  # the failing answer comes late: its attempt's latency covers the wait
        return Reply(500)

    with Receiver(respond) as receiver:
        endpoint = make_endpoint(shop, receiver.url, ["checkout_session.completed"])
        # One at a time, so no two share a createdAt millisecond (the createdAt filter below relies on it).
        delivered = emit_event(live, shop, "checkout_session.completed")
        wait_for_attempts(shop, delivered, endpoint["id"], 1)
        failing = emit_event(live, shop, "checkout_session.completed", note="fails")
        wait_for_attempts(shop, failing, endpoint["id"], 1)
        undelivered = emit_event(live, shop, "checkout_session.expired")  # nobody subscribes

    page = shop.http.get("/api/v1/events").json()
    assert (page["page"], page["count"], page["hasMore"]) == (1, 3, False)
    assert [e["id"] for e in page["data"]] == [undelivered, failing, delivered]  # newest first
    first = page["data"][2]
    assert (first["object"], first["type"], first["apiVersion"], first["livemode"]) == (
        "event",
        "checkout_session.completed",
        "2023-01-11",
        False,
    )
    assert first["data"]["object"]["object"] == "checkout_session"
    assert first["organizationId"] == str(shop.organization_id)
    assert {e["id"]: e["pendingWebhooks"] for e in page["data"]} == {undelivered: 0, failing: 1, delivered: 0}

    def ids(**params: str) -> list[str]:
        resp = shop.http.get("/api/v1/events", params=params)
        assert resp.status_code == 200, resp.text
        return [e["id"] for e in resp.json()["data"]]

    assert ids(type="checkout_session.expired") == [undelivered]
    assert ids(type="checkout_session.expired,checkout_session.completed") == [undelivered, failing, delivered]
    assert ids(deliverySuccess="true") == [delivered]
    assert ids(deliverySuccess="false") == [failing]
    assert ids(**{"createdAt[gt]": first["createdAt"]}) == [undelivered, failing]
    object_id = first["data"]["object"]["id"]
    assert ids(objectId=object_id) == [delivered]
    assert ids(ids=f"{delivered},{failing}") == [failing, delivered]
    bad = shop.http.get("/api/v1/events", params={"deliverySuccess": "maybe"})
    assert bad.status_code == 400
    assert bad.json()["message"][0].startswith("deliverySuccess: ")

    detail = event_detail(shop, failing)
    [delivery] = detail["deliveries"]
    assert (delivery["webhookEndpointId"], delivery["url"], delivery["status"]) == (
        endpoint["id"],
        receiver.url,
        "pending",
    )
    assert delivery["nextAttemptAt"] > delivery["lastAttemptAt"]
    [attempt] = delivery["attempts"]
    assert (attempt["number"], attempt["statusCode"], attempt["succeeded"]) == (1, 500, False)
    # At least the time the receiver held the answer, and less than the worker's timeout (it was answered).
    timeout_ms = DeliveryConfig.from_settings(live.settings).timeout_seconds * 1000
    assert HELD_SECONDS * 1000 <= attempt["latencyMs"] < timeout_ms
    assert shop.http.get(f"/api/v1/events/{uuid.uuid4()}").status_code == 404


def test_resend_to_all_or_to_one_endpoint(live: LiveServer, shop: Merchant) -> None:
    with Receiver() as receiver:
        first = make_endpoint(shop, receiver.url + "/1", ["checkout_session.completed"])
        second = make_endpoint(shop, receiver.url + "/2", ["*"])
        other_type = make_endpoint(shop, receiver.url + "/3", ["checkout_session.expired"])
        event_id = emit_event(live, shop)
        receiver.wait_for(2, event_id)

        resp = shop.http.post(f"/api/v1/events/{event_id}/resend")
        assert resp.status_code == 200, resp.text
        assert {d["kind"] for d in resp.json()["deliveries"]} == {"event", "resend"}
        receiver.wait_for(4, event_id)
        resp = shop.http.post(f"/api/v1/events/{event_id}/resend", json={"webhookEndpointId": second["id"]})
        assert resp.status_code == 200, resp.text
        requests = receiver.wait_for(5, event_id)

        refused = shop.http.post(f"/api/v1/events/{event_id}/resend", json={"webhookEndpointId": other_type["id"]})
        assert refused.status_code == 400
        assert refused.json()["message"][0].startswith("webhookEndpointId: ")
        shop.http.put(f"/api/v1/webhook-endpoints/{first['id']}", json={"isDisabled": True})
        refused = shop.http.post(f"/api/v1/events/{event_id}/resend", json={"webhookEndpointId": first["id"]})
        assert refused.status_code == 400
        assert "disabled" in refused.json()["message"][0]
        bad = shop.http.post(f"/api/v1/events/{event_id}/resend", json={"webhookEndpointId": "nope"})
        assert bad.status_code == 400
        assert bad.json()["message"][0].startswith("webhookEndpointId: ")

    assert sorted(r.path for r in requests) == ["/hooks/1", "/hooks/1", "/hooks/2", "/hooks/2", "/hooks/2"]
    assert {r.body for r in requests} == {requests[0].body}  # the same event, byte for byte
    wait_until(lambda: event_detail(shop, event_id)["pendingWebhooks"] == 0, "the resends to be recorded")
    kinds = sorted(d["kind"] for d in event_detail(shop, event_id)["deliveries"])
    assert kinds == ["event", "event", "resend", "resend", "resend"]


def test_resend_of_an_event_nobody_subscribes_to_is_a_400(live: LiveServer, shop: Merchant) -> None:
    event_id = emit_event(live, shop, "checkout_session.expired")
    resp = shop.http.post(f"/api/v1/events/{event_id}/resend")
    assert resp.status_code == 400
    assert "no enabled webhook endpoint" in resp.json()["message"]


def test_events_are_kept_30_days_then_purged(live: LiveServer, shop: Merchant) -> None:
    now = live.clock.now()
    ids = {}
    for age in (29, 31):
        with live.database.write_sessions() as db:
            event = emit(
                db,
                FrozenClock(now - timedelta(days=age)),
                organization_id=shop.organization_id,
                mode=shop.mode,
                type="checkout_session.expired",
                object_type="checkout_session",
                object_id=uuid.uuid4(),
                data={},
            )
            db.commit()
            ids[age] = str(event.id)
    assert purge_old_events(live.settings, live.database) >= 1
    assert shop.http.get(f"/api/v1/events/{ids[31]}").status_code == 404
    assert shop.http.get(f"/api/v1/events/{ids[29]}").status_code == 200


def test_cli_replays_a_time_range(live: LiveServer, shop: Merchant, tmp_path: Path) -> None:
    env = os.environ | {"KASSA_DATABASE_URL": live.settings.database_url, "KASSA_DATA_DIR": str(tmp_path)}
    with Receiver() as receiver:
        endpoint = make_endpoint(shop, receiver.url, ["checkout_session.completed", "checkout_session.expired"])
        start = live.clock.now().isoformat()
        completed = emit_event(live, shop, "checkout_session.completed")
        expired = emit_event(live, shop, "checkout_session.expired")
        receiver.wait_for(2)
        end = (live.clock.now() + timedelta(seconds=1)).isoformat()

        def kassa(*args: str) -> str:
            done = subprocess.run(
                [sys.executable, "-m", "kassa", "events", "resend", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout.strip()

        scope = ["--from", start, "--to", end, "--endpoint", endpoint["id"]]
        assert kassa(*scope, "--dry-run") == "would queue 2 deliveries of 2 events"
        assert kassa(*scope, "--type", "checkout_session.expired") == "queued 1 deliveries of 1 events"
        requests = receiver.wait_for(3)
    assert [r.event_id for r in requests].count(expired) == 2
    assert [r.event_id for r in requests].count(completed) == 1
    bad = subprocess.run(
        [sys.executable, "-m", "kassa", "events", "resend", "--from", "yesterday", "--to", end],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode != 0
    assert "--from" in bad.stderr

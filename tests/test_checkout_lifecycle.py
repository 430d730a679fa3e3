"""Expiry, completion, listing, polling and export of checkout sessions."""

from __future__ import annotations

import csv
import io
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from contract import assert_matches_operation
from factories import USDC, make_coupon, make_price, make_session
from kassa.checkout.service.complete import complete_session
from kassa.checkout.state import Transition
from kassa.events.models import Event
from kassa.events.service import events_for
from support import LiveServer, Merchant


def events(live: LiveServer, session_id: str, type: str | None = None) -> list[Event]:
    with live.database.read_sessions() as db:
        return events_for(db, uuid.UUID(session_id), type)


def wait_for_status(shop: Merchant, session_id: str, status: str, timeout: float = 15) -> dict[str, Any]:
    """Poll like a merchant would; fails if the state never arrives (a liveness check, not a timing one)."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = shop.http.get(f"/api/v1/checkout/sessions/{session_id}").json()
        if body["status"] == status or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def complete(live: LiveServer, session_id: str, transition: Transition = Transition.COMPLETE) -> bool:
    with live.database.write_sessions() as db:
        done = complete_session(
            db, live.clock, uuid.UUID(session_id), public_url=live.settings.public_url, transition=transition
        )
        db.commit()
        return done


def test_expire_endpoint(live: LiveServer, shop: Merchant) -> None:
    session = make_session(shop)
    resp = shop.http.post(f"/api/v1/checkout/sessions/{session['id']}/expire")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["status"], body["paymentStatus"]) == ("expired", "unpaid")
    assert body["expiredAt"] is not None
    [event] = events(live, session["id"], "checkout_session.expired")
    assert event.data["status"] == "expired"
    again = shop.http.post(f"/api/v1/checkout/sessions/{session['id']}/expire")
    assert again.status_code == 400
    assert "expired" in again.json()["message"]
    assert len(events(live, session["id"], "checkout_session.expired")) == 1


def test_expire_endpoint_refuses_complete_sessions(live: LiveServer, shop: Merchant) -> None:
    session = make_session(shop)
    assert complete(live, session["id"])
    resp = shop.http.post(f"/api/v1/checkout/sessions/{session['id']}/expire")
    assert resp.status_code == 400
    assert "already complete" in resp.json()["message"]


def test_session_expires_by_itself_at_expires_at(live: LiveServer, shop: Merchant) -> None:
    session = make_session(shop)
    live.clock.advance(timedelta(hours=1, seconds=1))
    try:
        body = wait_for_status(shop, session["id"], "expired")
    finally:
        live.clock.advance(-timedelta(hours=1, seconds=1))
    assert body["status"] == "expired"
    assert len(events(live, session["id"], "checkout_session.expired")) == 1


def test_sweep_expires_sessions_whose_job_is_gone(live: LiveServer, shop: Merchant) -> None:
    from kassa.checkout.jobs import sweep_expired
    from kassa.jobs.models import Job

    session = make_session(shop)
    with live.database.write_sessions() as db:
        job = db.scalar(select(Job).where(Job.target_id == uuid.UUID(session["id"])))
        assert job is not None
        assert job.kind == "checkout.expire"
        db.delete(job)
        db.commit()
    live.clock.advance(timedelta(hours=2))
    try:
        sweep_expired(live.settings, live.database)
    finally:
        live.clock.advance(-timedelta(hours=2))
    assert shop.http.get(f"/api/v1/checkout/sessions/{session['id']}").json()["status"] == "expired"


def test_not_expired_before_its_time(live: LiveServer, shop: Merchant) -> None:
    from kassa.checkout.jobs import sweep_expired

    session = make_session(shop)
    sweep_expired(live.settings, live.database)
    assert shop.http.get(f"/api/v1/checkout/sessions/{session['id']}").json()["status"] == "open"


def test_hundred_concurrent_completions_complete_once(live: LiveServer, shop: Merchant) -> None:
    coupon = make_coupon(shop, code="ONCE", maxRedemptions=5)
    session = make_session(shop, defaultPromotionCode="ONCE")
    assert session["discounts"][0]["coupon"]["code"] == "ONCE"
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: complete(live, session["id"]), range(100)))
    assert results.count(True) == 1
    assert len(events(live, session["id"], "checkout_session.completed")) == 1
    body = shop.http.get(f"/api/v1/checkout/sessions/{session['id']}").json()
    assert (body["status"], body["paymentStatus"], body["paymentIntent"]["status"]) == ("complete", "paid", "succeeded")
    assert shop.http.get(f"/api/v1/coupons/{coupon['id']}").json()["timesRedeemed"] == 1


def test_completion_creates_the_customer_when_asked(live: LiveServer, shop: Merchant) -> None:
    session = make_session(shop, customerCreation="always", customerData={"email": "buyer@example.com", "name": "B"})
    assert complete(live, session["id"])
    body = shop.http.get(f"/api/v1/checkout/sessions/{session['id']}").json()
    assert body["customer"]["email"] == "buyer@example.com"
    # if_required in payment mode creates none
    plain = make_session(shop, customerData={"email": "guest@example.com"})
    assert complete(live, plain["id"])
    assert shop.http.get(f"/api/v1/checkout/sessions/{plain['id']}").json()["customer"] is None


def test_accepting_a_partial_payment_needs_an_incomplete_session(live: LiveServer, shop: Merchant) -> None:
    session = make_session(shop)
    assert not complete(live, session["id"], Transition.ACCEPT_PARTIAL)
    assert shop.http.get(f"/api/v1/checkout/sessions/{session['id']}").json()["status"] == "open"


def test_completed_webhook_delivered_poll(live: LiveServer, shop: Merchant) -> None:
    session = make_session(shop)
    path = f"/api/v1/checkout/sessions/{session['id']}/completed_webhook_delivered"
    before = shop.http.get(path).json()
    assert_matches_operation(before, "SessionsController_checkoutSessionCompletedStatus")
    assert (before["completed"], before["status"]) == (False, "open")
    complete(live, session["id"])
    after = shop.http.get(path).json()
    assert (after["completed"], after["status"]) == (True, "complete")


def test_list_filters_and_slim_objects(live: LiveServer, shop: Merchant) -> None:
    price = make_price(shop)
    customer = shop.http.post("/api/v1/customers", json={"email": "l@example.com"}).json()
    a = make_session(shop, price_id=price["id"])
    b = make_session(shop, price_id=price["id"], customerId=customer["id"])
    c = make_session(shop, price_id=price["id"])
    complete(live, c["id"])
    page = shop.http.get("/api/v1/checkout/sessions").json()
    assert_matches_operation(page, "SessionsController_findAll")
    assert [s["id"] for s in page["data"]] == [c["id"], b["id"], a["id"]]
    assert "customer" not in page["data"][0]

    def ids(**params: str) -> list[str]:
        return [s["id"] for s in shop.http.get("/api/v1/checkout/sessions", params=params).json()["data"]]

    assert ids(status="complete") == [c["id"]]
    assert ids(paymentStatus="unpaid") == [b["id"], a["id"]]
    assert ids(customerId=customer["id"]) == [b["id"]]
    assert ids(mode="subscription") == []
    assert shop.http.get("/api/v1/checkout/sessions", params={"status": "done"}).status_code == 400


def test_export_csv(live: LiveServer, shop: Merchant) -> None:
    first = make_session(shop, clientReferenceId="=cmd|calc")
    second = make_session(shop)
    complete(live, second["id"])
    resp = shop.http.get("/api/v1/checkout/sessions/export")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert [r["id"] for r in rows] == [second["id"], first["id"]]
    assert rows[0]["status"] == "complete"
    assert rows[1]["clientReferenceId"] == "'=cmd|calc"  # defused for spreadsheets
    assert rows[1]["amountTotal"] == str(10 * USDC)
    only_complete = list(
        csv.DictReader(
            io.StringIO(shop.http.get("/api/v1/checkout/sessions/export", params={"status": "complete"}).text)
        )
    )
    assert [r["id"] for r in only_complete] == [second["id"]]
    future = shop.http.get("/api/v1/checkout/sessions/export", params={"from": "2999-01-01"}).text
    assert future.strip().count("\n") == 0  # header only
    assert shop.http.get("/api/v1/checkout/sessions/export", params={"from": "soon"}).status_code == 400


def test_events_are_written_with_the_state_change(live: LiveServer, shop: Merchant) -> None:
    session = make_session(shop)
    complete(live, session["id"])
    with live.database.read_sessions() as db:
        count = db.scalar(select(func.count()).select_from(Event).where(Event.object_id == uuid.UUID(session["id"])))
    assert count == 1
    [event] = events(live, session["id"])
    assert event.type == "checkout_session.completed"
    assert event.data["id"] == session["id"]
    assert event.data["status"] == "complete"
    assert event.organization_id == shop.organization_id


def test_completion_also_announces_the_payment_intent(live: LiveServer, shop: Merchant) -> None:
    session = make_session(shop)
    complete(live, session["id"])
    with live.database.read_sessions() as db:
        [event] = events_for(db, uuid.UUID(session["paymentIntent"]["id"]))
    assert event.type == "payment_intent.succeeded"
    assert event.data["id"] == session["paymentIntent"]["id"]
    assert event.data["status"] == "succeeded"
    assert event.data["checkoutSessionId"] == session["id"]

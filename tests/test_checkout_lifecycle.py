"""Expiry, completion, listing, polling and export of checkout sessions."""

from __future__ import annotations

import csv
import io
import threading
import time
import uuid
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import anyio
from sqlalchemy import func, select

from contract import assert_matches_operation
from factories import USDC, make_coupon, make_price, make_session, make_tax_rate
from kassa.checkout.endpoints import _in_worker_threads
from kassa.checkout.serialize import LIST_LINE_ITEMS
from kassa.checkout.service import queries
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


def test_the_merchant_expires_an_open_session_once_with_one_event(live: LiveServer, shop: Merchant) -> None:
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


def test_the_csv_export_lists_sessions_newest_first_filtered_and_defused_for_spreadsheets(
    live: LiveServer, shop: Merchant
) -> None:
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


def session_of_lines(shop: Merchant, prices: list[dict[str, Any]], lines: int, **fields: Any) -> dict[str, Any]:
    data = [{"priceId": prices[i % len(prices)]["id"], "quantity": i + 1} for i in range(lines)]
    return make_session(shop, price_id=prices[0]["id"], lineItems={"data": data}, **fields)


def test_list_items_carry_the_first_line_items_and_the_retrieve_all(shop: Merchant) -> None:
    prices = [make_price(shop, amount=(i + 1) * USDC, name=f"P{i}") for i in range(3)]
    vat = make_tax_rate(shop, percentage=20)
    many = session_of_lines(shop, prices, LIST_LINE_ITEMS + 2, taxRateIds=[vat["id"]])
    exact = session_of_lines(shop, prices, LIST_LINE_ITEMS)
    one = session_of_lines(shop, prices, 1)
    page = shop.http.get("/api/v1/checkout/sessions").json()
    assert_matches_operation(page, "SessionsController_findAll")
    listed = {s["id"]: s["lineItems"] for s in page["data"]}
    for session, shown, more in ((many, LIST_LINE_ITEMS, True), (exact, LIST_LINE_ITEMS, False), (one, 1, False)):
        full = shop.http.get(f"/api/v1/checkout/sessions/{session['id']}").json()["lineItems"]
        assert (len(full["data"]), full["hasMore"]) == (len(session["lineItems"]["data"]), False)
        assert listed[session["id"]] == {"object": "list", "data": full["data"][:shown], "hasMore": more}
    # In order, each line with its own price and the session's tax rate.
    assert [li["quantity"] for li in listed[many["id"]]["data"]] == list(range(1, LIST_LINE_ITEMS + 1))
    assert listed[many["id"]]["data"][4]["price"]["id"] == prices[1]["id"]
    assert listed[many["id"]]["data"][4]["taxRates"][0]["id"] == vat["id"]


def test_export_streams_every_row_across_batches(live: LiveServer, shop: Merchant, monkeypatch: Any) -> None:
    monkeypatch.setattr(queries, "EXPORT_BATCH", 4)  # 23 sessions: six batches, the last one short
    price = make_price(shop)
    created = []
    for i in range(23):
        created.append(
            make_session(
                shop, price_id=price["id"], clientReferenceId=f"order-{i}", customerData={"email": f"b{i}@x.io"}
            )
        )
        live.clock.advance(timedelta(milliseconds=5))  # distinct createdAt: the order is by time, then id
    complete(live, created[7]["id"])
    resp = shop.http.get("/api/v1/checkout/sessions/export")
    assert resp.status_code == 200
    assert "content-length" not in resp.headers  # streamed, not built whole
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    listed = shop.http.get("/api/v1/checkout/sessions").json()["data"]
    assert [r["id"] for r in rows] == [s["id"] for s in listed] == [s["id"] for s in reversed(created)]
    by_id = {r["id"]: r for r in rows}
    for i, session in enumerate(created):
        row = by_id[session["id"]]
        assert (row["clientReferenceId"], row["customerEmail"]) == (f"order-{i}", f"b{i}@x.io")
        assert (row["createdAt"], row["amountTotal"]) == (session["createdAt"], session["amountTotal"])
        assert row["status"] == ("complete" if i == 7 else "open")
    assert resp.text.count("\n") == 24  # a header and one line per session, nothing repeated across batches
    window = {"from": created[5]["createdAt"], "to": created[9]["createdAt"], "createdAt[gt]": created[5]["createdAt"]}
    narrowed = list(csv.DictReader(io.StringIO(shop.http.get("/api/v1/checkout/sessions/export", params=window).text)))
    assert [r["id"] for r in narrowed] == [created[i]["id"] for i in (8, 7, 6)]
    picked = [("ids", created[3]["id"]), ("ids", created[20]["id"])]
    chosen = list(csv.DictReader(io.StringIO(shop.http.get("/api/v1/checkout/sessions/export", params=picked).text)))
    assert [r["id"] for r in chosen] == [created[20]["id"], created[3]["id"]]


def test_an_abandoned_export_stream_is_closed_in_a_worker_thread() -> None:
    """A client gone mid-export: the generator (and with it the export's transaction) ends off the event loop."""
    closed_in: list[threading.Thread] = []

    def chunks() -> Generator[bytes]:
        try:
            yield b"row 1"
            yield b"row 2"
        finally:
            closed_in.append(threading.current_thread())

    async def read_two_and_leave() -> list[bytes]:
        stream = _in_worker_threads(b"header", chunks())
        read = [await anext(stream), await anext(stream)]
        await stream.aclose()
        return read

    # On a thread of its own: the browser tests keep an event loop running on the main thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        read = pool.submit(anyio.run, read_two_and_leave).result(timeout=30)
    assert read == [b"header", b"row 1"]
    assert len(closed_in) == 1
    assert closed_in[0] is not threading.main_thread()
    assert closed_in[0].name.startswith("AnyIO worker thread")


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

"""Point 7, and the second half of point 11: a promotion code's limit holds however many sessions race for it,
and the hosted page's limit on code attempts holds across processes.

Applying a code reserves one redemption (at session creation through the API, and on the hosted page); a code
whose redemptions plus reservations reach its maxRedemptions cannot be applied. Expiry, the buyer's cancel and
removing or replacing the code release the reservation; completion turns it into a redemption.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import func, select

from e2e.pagekit import complete, csrf_of, page_session, retrieve
from factories import USDC, make_coupon, make_price, session_body
from kassa.checkout.jobs import sweep_expired
from kassa.checkout.models import CheckoutSession
from kassa.discounts.models import Coupon, PromotionCode
from support import Backend, LiveServer, Merchant, fresh_database_url, merchant, start_server

T = TypeVar("T")
RACERS = 12
USED_UP = "defaultPromotionCode: the promotion code ONCE has been used up"


def limited_code(shop: Merchant, binding: str, code: str = "ONCE") -> dict[str, Any]:
    """A 10 % code that may be redeemed once, by its own limit or by its coupon's."""
    if binding == "code":
        return make_coupon(shop, code=code, promotionCodeData={"data": [{"code": code, "maxRedemptions": 1}]})
    return make_coupon(shop, code=code, maxRedemptions=1)


def together(count: int, task: Callable[[int], T]) -> list[T]:
    """Run `task(0..count-1)` on as many threads, released at once by a barrier."""
    barrier = threading.Barrier(count)

    def run(index: int) -> T:
        barrier.wait(timeout=30)
        return task(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def create(shop: Merchant, price_id: str, **fields: Any) -> httpx.Response:
    return shop.post_alone("/api/v1/checkout/sessions", session_body(price_id=price_id, **fields))


def counters(live: LiveServer, coupon: dict[str, Any]) -> dict[str, int]:
    """What the database holds for the coupon and its code, and how many sessions hold the code now."""
    with live.database.read_sessions() as db:
        row = db.get(Coupon, uuid.UUID(coupon["id"]))
        code = db.get(PromotionCode, uuid.UUID(coupon["promotionCodes"][0]["id"]))
        assert row is not None
        assert code is not None
        holding = db.scalar(
            select(func.count())
            .select_from(CheckoutSession)
            .where(CheckoutSession.promotion_code_id == code.id, CheckoutSession.status.in_(["open", "incomplete"]))
        )
        return {
            "coupon_redeemed": row.times_redeemed,
            "coupon_reserved": row.times_reserved,
            "code_redeemed": code.times_redeemed,
            "code_reserved": code.times_reserved,
            "sessions_holding": holding or 0,
        }


def redeemed_in_api(shop: Merchant, coupon: dict[str, Any]) -> tuple[int, int]:
    body = shop.http.get(f"/api/v1/coupons/{coupon['id']}").json()
    return body["timesRedeemed"], body["promotionCodes"][0]["timesRedeemed"]


def assert_used_up(resp: httpx.Response, message: str = USED_UP) -> None:
    assert resp.status_code == 400, resp.text
    assert resp.json() == {"message": [message], "statusCode": 400, "error": "Bad Request"}


def assert_discounted(session: dict[str, Any], code: str = "ONCE") -> None:
    """The session shows the discount, and its total is what the buyer pays with it."""
    assert session["discounts"][0]["coupon"]["code"] == code
    assert int(session["amountDiscount"]) == USDC  # 10 % of 10 USDC
    assert int(session["amountTotal"]) == int(session["amountSubtotal"]) - USDC


# ---------------------------------------------------------------------------------------------------------------
# Sessions created through the API


@pytest.mark.parametrize("binding", ["code", "coupon"])
def test_concurrent_sessions_get_a_code_limited_to_one_exactly_once(
    live: LiveServer, shop: Merchant, binding: str
) -> None:
    coupon = limited_code(shop, binding)
    price = make_price(shop)
    responses = together(RACERS, lambda _: create(shop, price["id"], defaultPromotionCode="ONCE"))
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1, [r.text for r in responses]
    assert_discounted(winners[0].json())
    for loser in (r for r in responses if r.status_code != 200):
        assert_used_up(loser)
    listed = shop.http.get("/api/v1/checkout/sessions", params={"couponId": coupon["id"]}).json()
    assert [s["id"] for s in listed["data"]] == [winners[0].json()["id"]]  # the losers wrote nothing
    assert counters(live, coupon) == {
        "coupon_redeemed": 0,
        "coupon_reserved": 1,
        "code_redeemed": 0,
        "code_reserved": 1,
        "sessions_holding": 1,
    }


def test_the_merchants_expire_releases_the_reservation(live: LiveServer, shop: Merchant) -> None:
    coupon = limited_code(shop, "code")
    price = make_price(shop)
    first = create(shop, price["id"], defaultPromotionCode="ONCE").json()
    assert_used_up(create(shop, price["id"], defaultPromotionCode="ONCE"))
    assert shop.http.post(f"/api/v1/checkout/sessions/{first['id']}/expire").status_code == 200
    assert counters(live, coupon)["code_reserved"] == 0
    second = create(shop, price["id"], defaultPromotionCode="once")
    assert second.status_code == 200, second.text
    assert_discounted(second.json())
    assert redeemed_in_api(shop, coupon) == (0, 0)


def test_expiry_at_expires_at_releases_the_reservation(live: LiveServer, shop: Merchant) -> None:
    coupon = limited_code(shop, "coupon")
    price = make_price(shop)
    first = create(shop, price["id"], defaultPromotionCode="ONCE").json()
    live.clock.advance(timedelta(hours=2))
    try:
        sweep_expired(live.settings, live.database)
        assert retrieve(shop, first["id"])["status"] == "expired"
        assert counters(live, coupon)["coupon_reserved"] == 0
        second = create(shop, price["id"], defaultPromotionCode="ONCE")
    finally:
        live.clock.advance(-timedelta(hours=2))
    assert second.status_code == 200, second.text
    assert_discounted(second.json())


def test_completion_turns_the_reservation_into_a_redemption(live: LiveServer, shop: Merchant) -> None:
    coupon = limited_code(shop, "coupon")
    price = make_price(shop)
    session = create(shop, price["id"], defaultPromotionCode="ONCE").json()
    assert complete(live, session["id"])
    assert redeemed_in_api(shop, coupon) == (1, 1)
    assert shop.http.get(f"/api/v1/coupons/{coupon['id']}").json()["status"] == "limit_reached"
    assert counters(live, coupon) == {
        "coupon_redeemed": 1,
        "coupon_reserved": 0,
        "code_redeemed": 1,
        "code_reserved": 0,
        "sessions_holding": 0,
    }
    done = retrieve(shop, session["id"])
    assert (done["status"], done["amountTotal"]) == ("complete", session["amountTotal"])
    assert "discountRedemptionFailed" not in done  # nothing can fail at completion any more
    assert_used_up(create(shop, price["id"], defaultPromotionCode="ONCE"))
    assert shop.http.post(f"/api/v1/checkout/sessions/{session['id']}/expire").status_code == 400
    assert redeemed_in_api(shop, coupon) == (1, 1)


def test_a_code_that_is_unknown_or_disabled_still_creates_the_session_without_it(shop: Merchant) -> None:
    """Only the limit is a 400: the contract creates the session without an invalid or expired code."""
    coupon = limited_code(shop, "code")
    shop.http.post(f"/api/v1/coupons/{coupon['id']}/disable")
    price = make_price(shop)
    for code in ("ONCE", "NOPE"):
        resp = create(shop, price["id"], defaultPromotionCode=code)
        assert resp.status_code == 200, resp.text
        assert (resp.json()["discounts"], resp.json()["amountDiscount"]) == ([], "0")


# ---------------------------------------------------------------------------------------------------------------
# The hosted page


def page_form(http: httpx.Client, session: dict[str, Any]) -> dict[str, str]:
    page = http.get(f"/pay/{session['id']}")
    assert page.status_code == 200, page.text
    return {"csrf_token": csrf_of(page.text)}


def apply(live: LiveServer, session: dict[str, Any], code: str, action: str = "apply_code") -> httpx.Response:
    with live.client() as http:
        form = page_form(http, session) | {"action": action, "promotion_code": code}
        return http.post(f"/pay/{session['id']}", data=form)


def test_applying_on_the_page_respects_the_limit(live: LiveServer, shop: Merchant) -> None:
    coupon = limited_code(shop, "code")
    make_coupon(shop, code="OTHER", percentOff=20)
    a, b = (page_session(shop, allowPromotionCodes=True) for _ in range(2))
    assert apply(live, a, "once").status_code == 200
    assert_discounted(retrieve(shop, a["id"]))
    refused = apply(live, b, "ONCE")
    assert refused.status_code == 400
    assert "The promotion code ONCE has been used up." in refused.text
    assert retrieve(shop, b["id"])["discounts"] == []
    assert apply(live, a, "", action="remove_code").status_code == 200  # removing gives it back
    assert retrieve(shop, a["id"])["amountTotal"] == str(10 * USDC)
    assert apply(live, b, "ONCE").status_code == 200
    assert apply(live, a, "ONCE").status_code == 400
    assert apply(live, b, "OTHER").status_code == 200  # replacing gives it back too
    assert retrieve(shop, b["id"])["discounts"][0]["coupon"]["code"] == "OTHER"
    assert apply(live, a, "ONCE").status_code == 200
    assert counters(live, coupon)["code_reserved"] == 1


def test_concurrent_page_applies_of_a_code_limited_to_one(live: LiveServer, shop: Merchant) -> None:
    coupon = limited_code(shop, "coupon")
    price = make_price(shop)
    sessions = [page_session(shop, price_id=price["id"], allowPromotionCodes=True) for _ in range(RACERS)]
    clients = [live.client() for _ in sessions]
    forms = [
        page_form(http, s) | {"action": "apply_code", "promotion_code": "ONCE"}
        for http, s in zip(clients, sessions, strict=True)
    ]
    try:
        statuses = together(RACERS, lambda i: clients[i].post(f"/pay/{sessions[i]['id']}", data=forms[i]).status_code)
    finally:
        for http in clients:
            http.close()
    assert sorted(statuses) == [200] + [400] * (RACERS - 1)
    discounted = [s for s in sessions if retrieve(shop, s["id"])["discounts"]]
    assert len(discounted) == 1
    assert_discounted(retrieve(shop, discounted[0]["id"]))
    assert counters(live, coupon)["coupon_reserved"] == 1


def test_the_buyers_cancel_releases_the_reservation(live: LiveServer, shop: Merchant) -> None:
    coupon = limited_code(shop, "code")
    price = make_price(shop)
    left = page_session(shop, price_id=price["id"], defaultPromotionCode="ONCE")
    assert_discounted(left)
    assert_used_up(create(shop, price["id"], defaultPromotionCode="ONCE"))
    with live.client() as http:
        resp = http.post(f"/pay/{left['id']}/cancel", data=page_form(http, left))
    assert resp.status_code == 303
    after = retrieve(shop, left["id"])
    # Still open (the buyer may come back), and showing what it would cost now: the full price.
    assert (after["status"], after["discounts"], after["amountTotal"]) == ("open", [], str(10 * USDC))
    assert counters(live, coupon)["code_reserved"] == 0
    taken = create(shop, price["id"], defaultPromotionCode="ONCE")
    assert taken.status_code == 200, taken.text
    assert_discounted(taken.json())


def test_the_books_balance_after_a_mixed_race(live: LiveServer, shop: Merchant) -> None:
    """Creates, page applies and removes, expiries and completions at once: every reservation is held by exactly
    one open session, every redemption by one completed session, and the limit is never passed."""
    coupon = make_coupon(shop, code="FEW", maxRedemptions=4)
    price = make_price(shop)
    held = [create(shop, price["id"], defaultPromotionCode="FEW", allowPromotionCodes=True).json() for _ in range(4)]
    spare = [page_session(shop, price_id=price["id"], allowPromotionCodes=True) for _ in range(4)]

    def step(i: int) -> int:
        if i < 2:
            return 200 if complete(live, held[i]["id"]) else 0
        if i == 2:
            return shop.post_alone(f"/api/v1/checkout/sessions/{held[2]['id']}/expire", None).status_code
        if i == 3:
            return apply(live, held[3], "", action="remove_code").status_code
        if i < 6:
            return create(shop, price["id"], defaultPromotionCode="FEW").status_code
        return apply(live, spare[i - 6], "FEW").status_code

    together(10, step)
    books = counters(live, coupon)
    completed = 2
    assert (books["coupon_redeemed"], books["code_redeemed"]) == (completed, completed)
    assert books["coupon_reserved"] == books["code_reserved"] == books["sessions_holding"]
    assert completed + books["coupon_reserved"] <= 4
    assert redeemed_in_api(shop, coupon) == (completed, completed)


# ---------------------------------------------------------------------------------------------------------------
# Point 11: the attempt limit holds across processes


@pytest.fixture
def two_servers(backend: Backend, tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two app instances on one database (and one page secret, from the shared data directory)."""
    url = fresh_database_url(backend, tmp_path, "two_apps")
    first = start_server(backend, url, data_dir=tmp_path, devnet=False)
    try:
        second = start_server(backend, url, data_dir=tmp_path, devnet=False)
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def test_code_attempts_are_limited_across_processes(two_servers: tuple[LiveServer, LiveServer]) -> None:
    first, second = two_servers
    with merchant(first) as shop:
        make_coupon(shop, code="REAL", percentOff=10)
        session = page_session(shop, allowPromotionCodes=True)
        url = f"/pay/{session['id']}"
        with closing(first.client()) as one, closing(second.client()) as two:
            forms = [page_form(http, session) | {"action": "apply_code"} for http in (one, two)]
            statuses = [
                (one, two)[i % 2].post(url, data=forms[i % 2] | {"promotion_code": f"GUESS{i}"}).status_code
                for i in range(10)
            ]
            assert statuses == [400] * 10  # each rejected, and each counted (the rejections are committed)
            for http, form in zip((one, two), forms, strict=True):
                limited = http.post(url, data=form | {"promotion_code": "REAL"})
                assert limited.status_code == 429
                assert "Too many promotion code attempts." in limited.text
        assert retrieve(shop, session["id"])["discounts"] == []
        for server in (first, second):
            server.clock.advance(timedelta(minutes=10, seconds=1))
        with closing(second.client()) as two:
            form = page_form(two, session) | {"action": "apply_code", "promotion_code": "REAL"}
            assert two.post(url, data=form).status_code == 200
        assert retrieve(shop, session["id"])["discounts"][0]["coupon"]["code"] == "REAL"

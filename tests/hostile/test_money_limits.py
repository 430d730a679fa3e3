"""Issue #10 point 3: money too large for its columns is a 400 naming the field, never a 500, and writes nothing.

The limits are `kassa.money`'s; these go through the API (and the hosted page) on both databases, exactly at
each limit and one past it.
"""

from __future__ import annotations

from typing import Any

from e2e.pagekit import csrf_of, field_errors, page_session, retrieve
from factories import USDC, WALLET, make_coupon, make_price, make_tax_rate
from kassa.money import MAX_LINE_TOTAL, MAX_QUANTITY, MAX_SESSION_TOTAL, MAX_UNIT_AMOUNT
from support import LOCAL_CHAIN_ID, LiveServer, Merchant

SESSIONS = "/api/v1/checkout/sessions"


def line(price_id: str, quantity: int, **fields: Any) -> dict[str, Any]:
    return {"priceId": price_id, "quantity": quantity} | fields


def session_with(lines: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {
        "successUrl": "https://shop.example.com/thanks",
        "lineItems": {"data": lines},
        "paymentSetting": {"allowedChains": [{"chainId": LOCAL_CHAIN_ID, "withdrawalAddress": WALLET}]},
    } | fields


def count(shop: Merchant, path: str) -> int:
    resp = shop.http.get(path)
    assert resp.status_code == 200, resp.text
    total: int = resp.json()["count"]
    return total


def refused(shop: Merchant, path: str, body: dict[str, Any]) -> list[str]:
    """POST `body`, expect a 400 in the Copperx shape, and check that no session, price or product was written."""
    before = {p: count(shop, p) for p in (SESSIONS, "/api/v1/prices", "/api/v1/products")}
    resp = shop.http.post(path, json=body)
    assert resp.status_code == 400, resp.text
    payload = resp.json()
    assert (payload["statusCode"], payload["error"]) == (400, "Bad Request")
    assert {p: count(shop, p) for p in before} == before
    messages: list[str] = payload["message"]
    return messages


def created(shop: Merchant, body: dict[str, Any]) -> dict[str, Any]:
    resp = shop.http.post(SESSIONS, json=body)
    assert resp.status_code == 200, resp.text
    session: dict[str, Any] = resp.json()
    return session


def test_the_largest_price_times_9300_is_refused_by_quantity(shop: Merchant) -> None:
    price = make_price(shop, amount=MAX_UNIT_AMOUNT)
    [message] = refused(shop, SESSIONS, session_with([line(price["id"], 9_300)]))
    assert message == (
        f"lineItems.data.0.quantity: unit amount × quantity is {MAX_UNIT_AMOUNT * 9_300}, "
        f"more than the largest line amount, {MAX_LINE_TOTAL}"
    )
    # Exactly at the line limit it is accepted, and stored and returned exactly.
    at_limit = created(shop, session_with([line(price["id"], MAX_LINE_TOTAL // MAX_UNIT_AMOUNT)]))
    assert at_limit["amountTotal"] == str(MAX_LINE_TOTAL)
    assert retrieve(shop, at_limit["id"])["lineItems"]["data"][0]["amountTotal"] == str(MAX_LINE_TOTAL)


def test_quantity_of_a_million_is_refused_when_the_line_gets_too_large(shop: Merchant) -> None:
    price = make_price(shop, amount=MAX_UNIT_AMOUNT)
    [message] = refused(shop, SESSIONS, session_with([line(price["id"], MAX_QUANTITY)]))
    assert message.startswith("lineItems.data.0.quantity: unit amount × quantity is 1000000000000000000000, ")
    [past] = refused(shop, SESSIONS, session_with([line(price["id"], MAX_QUANTITY + 1)]))
    assert past.startswith("lineItems.data.0.quantity: ")
    cheap = make_price(shop, amount=USDC)
    assert created(shop, session_with([line(cheap["id"], MAX_QUANTITY)]))["amountTotal"] == str(MAX_QUANTITY * USDC)


def test_a_hundred_lines_of_a_thousand_are_refused_line_by_line_or_as_a_whole(shop: Merchant) -> None:
    largest = make_price(shop, amount=MAX_UNIT_AMOUNT)
    messages = refused(shop, SESSIONS, session_with([line(largest["id"], 1_000)] * 100))
    assert [m.split(":")[0] for m in messages] == [f"lineItems.data.{i}.quantity" for i in range(100)]
    # Each line fits, all of them together do not: 100 × 1,000 × (10^12 + 1) is 10^17 + 10^5.
    share = MAX_SESSION_TOTAL // 100_000
    over = make_price(shop, amount=share + 1)
    [message] = refused(shop, SESSIONS, session_with([line(over["id"], 1_000)] * 100))
    assert message == (
        f"lineItems: the lines add up to {MAX_SESSION_TOTAL + 100_000}, "
        f"more than the largest session amount, {MAX_SESSION_TOTAL}"
    )
    exact = make_price(shop, amount=share)
    assert created(shop, session_with([line(exact["id"], 1_000)] * 100))["amountTotal"] == str(MAX_SESSION_TOTAL)


def test_a_tax_that_pushes_the_total_past_the_limit_is_refused_as_amount_total(shop: Merchant) -> None:
    price = make_price(shop, amount=MAX_UNIT_AMOUNT)
    quantity = MAX_SESSION_TOTAL // MAX_UNIT_AMOUNT
    tax = make_tax_rate(shop, percentage=10)
    [message] = refused(shop, SESSIONS, session_with([line(price["id"], quantity)], taxRateIds=[tax["id"]]))
    assert message == (
        f"amountTotal: with tax the session comes to {MAX_SESSION_TOTAL * 11 // 10}, "
        f"more than the largest session amount, {MAX_SESSION_TOTAL}"
    )
    # A subtotal at the limit with one unit of tax (100 % of a 1-unit line) is one past it; one unit less fits.
    everything = make_tax_rate(shop, percentage=100)
    taxed_unit = line(make_price(shop, amount=1)["id"], 1, taxRateIds=[everything["id"]])
    fill = [line(price["id"], quantity - 1), line(make_price(shop, amount=MAX_UNIT_AMOUNT - 1)["id"], 1)]
    [message] = refused(shop, SESSIONS, session_with([*fill, taxed_unit]))
    assert message.startswith(f"amountTotal: with tax the session comes to {MAX_SESSION_TOTAL + 1}, ")
    fill[1] = line(make_price(shop, amount=MAX_UNIT_AMOUNT - 2)["id"], 1)
    assert created(shop, session_with([*fill, taxed_unit]))["amountTotal"] == str(MAX_SESSION_TOTAL)
    # An inclusive tax is contained in the amount: the total stays at the limit.
    inclusive = make_tax_rate(shop, percentage=10, inclusive=True)
    body = session_with([line(price["id"], quantity)], taxRateIds=[inclusive["id"]])
    assert created(shop, body)["amountTotal"] == str(MAX_SESSION_TOTAL)


def test_a_discount_does_not_make_room_for_tax_past_the_limit(shop: Merchant) -> None:
    # Checked before the discount: otherwise removing the code on the hosted page would overflow the total.
    make_coupon(shop, code="HALF", percentOff=50)
    price = make_price(shop, amount=MAX_UNIT_AMOUNT)
    tax = make_tax_rate(shop, percentage=10)
    body = session_with(
        [line(price["id"], MAX_SESSION_TOTAL // MAX_UNIT_AMOUNT)],
        taxRateIds=[tax["id"]],
        allowPromotionCodes=True,
        defaultPromotionCode="HALF",
    )
    [message] = refused(shop, SESSIONS, body)
    assert message.startswith("amountTotal: ")


def test_inline_price_data_past_the_limits_writes_no_price_or_product(shop: Merchant) -> None:
    inline = {"currency": "usdc", "unitAmount": MAX_UNIT_AMOUNT, "productData": {"name": "Ad hoc"}}
    [message] = refused(shop, SESSIONS, session_with([{"priceData": inline, "quantity": 9_300}]))
    assert message.startswith("lineItems.data.0.quantity: ")
    too_large = inline | {"unitAmount": MAX_UNIT_AMOUNT + 1}
    [message] = refused(shop, SESSIONS, session_with([{"priceData": too_large, "quantity": 1}]))
    assert message == f"lineItems.data.0.priceData.unitAmount: must be at most {MAX_UNIT_AMOUNT}"


def test_price_amounts_are_bounded_at_the_largest_unit_amount(shop: Merchant) -> None:
    base = {"currency": "usdc", "productData": {"name": "Big"}}
    fields = ("unitAmount", "customUnitMin", "customUnitMax", "customPreset")
    for field in fields:
        [message] = refused(shop, "/api/v1/prices", base | {field: MAX_UNIT_AMOUNT + 1})
        assert message == f"{field}: must be at most {MAX_UNIT_AMOUNT}"
    suggestions = {"customUnitAmountSuggestions": [1, str(MAX_UNIT_AMOUNT + 1)]}
    [message] = refused(shop, "/api/v1/prices", base | suggestions)
    assert message == f"customUnitAmountSuggestions.1: must be at most {MAX_UNIT_AMOUNT}"
    assert make_price(shop, amount=MAX_UNIT_AMOUNT)["unitAmount"] == str(MAX_UNIT_AMOUNT)
    pwyw = make_price(shop, amount=None, customUnitMax=MAX_UNIT_AMOUNT, customPreset=str(MAX_UNIT_AMOUNT))
    assert (pwyw["customUnitMax"], pwyw["customPreset"]) == (str(MAX_UNIT_AMOUNT), str(MAX_UNIT_AMOUNT))


def test_coupon_amount_off_is_bounded_at_the_largest_unit_amount(shop: Merchant) -> None:
    body = {"name": "Big", "currency": "usdc", "promotionCodeData": {"data": [{"code": "BIG"}]}}
    [message] = refused(shop, "/api/v1/coupons", body | {"amountOff": MAX_UNIT_AMOUNT + 1})
    assert message == f"amountOff: must be at most {MAX_UNIT_AMOUNT}"
    assert count(shop, "/api/v1/coupons") == 0
    coupon = make_coupon(shop, code="BIG", amountOff=MAX_UNIT_AMOUNT, currency="usdc")
    assert coupon["amountOff"] == str(MAX_UNIT_AMOUNT)


def test_an_open_pay_what_you_want_line_counts_at_the_largest_amount(shop: Merchant) -> None:
    open_amount = make_price(shop, amount=None, customUnitMin=USDC)
    fixed = make_price(shop, amount=MAX_UNIT_AMOUNT)
    quantity = MAX_SESSION_TOTAL // MAX_UNIT_AMOUNT
    [message] = refused(shop, SESSIONS, session_with([line(fixed["id"], quantity), line(open_amount["id"], 1)]))
    assert message == (
        f"lineItems: the lines add up to {MAX_SESSION_TOTAL + MAX_UNIT_AMOUNT}, more than the largest session "
        f"amount, {MAX_SESSION_TOTAL} (an open pay-what-you-want line counts at {MAX_UNIT_AMOUNT}, the most a "
        "buyer may enter)"
    )
    session = created(shop, session_with([line(fixed["id"], quantity - 1), line(open_amount["id"], 1)]))
    assert (session["amountTotal"], session["amountPending"]) == (str(MAX_SESSION_TOTAL - MAX_UNIT_AMOUNT), True)


def test_the_hosted_page_refuses_a_typed_amount_past_the_largest_unit_amount(live: LiveServer, shop: Merchant) -> None:
    no_maximum = make_price(shop, amount=None, customUnitMin=USDC)
    session = page_session(shop, price_id=no_maximum["id"])
    largest = "10000000.00"  # MAX_UNIT_AMOUNT at 8 decimals
    assert MAX_UNIT_AMOUNT == 10_000_000 * USDC
    with live.client() as http:
        page = http.get(f"/pay/{session['id']}").text
        form = {"csrf_token": csrf_of(page), "action": "update_amount"}
        for typed in ("10000000.00000001", "9999999999.99999999"):
            resp = http.post(f"/pay/{session['id']}", data=form | {"amount_0": typed})
            assert resp.status_code == 400, typed
            assert field_errors(resp.text) == {"amount_0": f"The amount must be at most {largest} USDC."}
            assert retrieve(shop, session["id"])["amountPending"] is True
        resp = http.post(f"/pay/{session['id']}", data=form | {"amount_0": largest})
        assert resp.status_code == 200, resp.text
    stored = retrieve(shop, session["id"])
    assert (stored["amountTotal"], stored["amountPending"]) == (str(MAX_UNIT_AMOUNT), False)

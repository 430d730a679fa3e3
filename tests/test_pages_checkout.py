"""The hosted checkout page over plain HTTP (no JavaScript): what it shows, what it stores, how it refuses."""

from __future__ import annotations

import re
import uuid
from contextlib import closing
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from e2e.pagekit import (
    VALID_VALUES,
    complete,
    csrf_of,
    field_errors,
    full_session,
    page_session,
    product_price,
    pwyw_session,
    retrieve,
)
from factories import USDC, make_coupon, make_tax_rate
from kassa.chains.registry import DEV_CHAIN_ID
from kassa.checkout.models import CodeAttempt
from kassa.checkout.service import buyer_pricing
from kassa.events.service import events_for
from support import LiveServer, Merchant
from test_payments_devnet import pay, wait_for


def browser(live: LiveServer) -> httpx.Client:
    return live.client()


def get_page(http: httpx.Client, session: dict[str, Any]) -> str:
    resp = http.get(f"/pay/{session['id']}")
    assert resp.status_code == 200, resp.text
    return resp.text


def page_html(live: LiveServer, session: dict[str, Any]) -> str:
    with browser(live) as http:
        return get_page(http, session)


def post(http: httpx.Client, path: str, data: dict[str, str], **headers: str) -> httpx.Response:
    return http.post(path, data=data, headers=headers)


def submit(live: LiveServer, session: dict[str, Any], values: dict[str, str], action: str = "pay") -> httpx.Response:
    with browser(live) as http:
        page = get_page(http, session)
        return post(http, f"/pay/{session['id']}", {"csrf_token": csrf_of(page), "action": action} | values)


def test_page_shows_the_order(live: LiveServer, shop: Merchant) -> None:
    tax = make_tax_rate(shop, percentage=10)
    price = product_price(
        shop,
        name="Deluxe widget",
        amount=1_250_000_000,
        description="Hand made",
        images=["https://cdn.example.com/w.png", "http://insecure.example.com/w.png"],
    )
    session = page_session(shop, price_id=price["id"], quantity=3, taxRateIds=[tax["id"]])
    page = page_html(live, session)
    for text in ("Test Shop", "Deluxe widget", "Hand made", "Qty 3 × 12.50 USDC", "37.50 USDC", "Test mode"):
        assert text in page, text
    assert 'src="https://cdn.example.com/w.png"' in page
    assert "insecure.example.com" not in page  # the CSP would block it anyway
    assert re.search(r"<dt>Tax</dt><dd data-tax>3\.75 USDC</dd>", page)
    assert re.search(r"<dd data-grand-total>41\.25 USDC</dd>", page)
    assert "Pay 41.25 USDC" in page
    assert "Time left to pay" in page


def test_security_headers_and_static_files(live: LiveServer, shop: Merchant) -> None:
    session = page_session(shop)
    with browser(live) as http:
        resp = http.get(f"/pay/{session['id']}")
        csp = resp.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "style-src 'self'" in csp
        assert "'unsafe-inline'" not in csp
        assert "frame-ancestors 'none'" in csp
        assert "form-action 'self' https://shop.example.com" in csp
        assert resp.headers["x-frame-options"] == "DENY"
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["referrer-policy"] == "no-referrer"
        assert resp.headers["cache-control"] == "no-store"
        assert "<script>" not in resp.text
        assert " style=" not in resp.text
        for asset in re.findall(r'(?:src|href)="(/static/checkout/[^"]+)"', resp.text):
            static = http.get(asset)
            assert static.status_code == 200, asset
            assert static.headers["x-content-type-options"] == "nosniff"
            assert static.headers["content-type"].startswith(("text/css", "text/javascript", "image/svg+xml"))


def test_unknown_sessions_get_their_own_page(live: LiveServer) -> None:
    with browser(live) as http:
        for path in (f"/pay/{uuid.uuid4()}", "/pay/not-a-session", f"/pay/{uuid.uuid4()}/payment"):
            resp = http.get(path)
            assert resp.status_code == 404, path
            assert "Checkout not found" in resp.text
            assert resp.headers["x-frame-options"] == "DENY"


def test_expired_session_page_offers_the_cancel_url(live: LiveServer, shop: Merchant) -> None:
    session = page_session(shop)
    assert shop.http.post(f"/api/v1/checkout/sessions/{session['id']}/expire").status_code == 200
    with browser(live) as http:
        resp = http.get(f"/pay/{session['id']}")
        assert resp.status_code == 410
        assert "This checkout has expired" in resp.text
        assert f'href="https://shop.example.com/cart?session={session["id"]}"' in resp.text
        assert http.get(f"/pay/{session['id']}/payment").status_code == 410


def test_a_session_past_its_time_shows_expired_before_the_sweep(live: LiveServer, shop: Merchant) -> None:
    session = page_session(shop)
    live.clock.advance(timedelta(hours=1, seconds=5))
    try:
        with browser(live) as http:
            assert http.get(f"/pay/{session['id']}").status_code == 410
    finally:
        live.clock.advance(-timedelta(hours=1, seconds=5))


def test_completed_session_redirect_and_confirmation(live: LiveServer, shop: Merchant) -> None:
    redirecting = page_session(shop)
    confirming = page_session(
        shop, afterCompletion="hosted_confirmation", afterCompletionConfirmMsg="Thanks! Your tickets are on the way."
    )
    with browser(live) as http:
        assert http.get(f"/pay/{redirecting['id']}/done").headers["location"] == f"/pay/{redirecting['id']}/payment"
        token = csrf_of(get_page(http, confirming))
        for session in (redirecting, confirming):
            assert complete(live, session["id"])
        done = http.get(f"/pay/{redirecting['id']}/done")
        assert (done.status_code, done.headers["location"]) == (
            303,
            f"https://shop.example.com/thanks?session={redirecting['id']}",
        )
        page = http.get(f"/pay/{redirecting['id']}")
        assert page.status_code == 200
        assert "Payment complete" in page.text
        assert f'href="https://shop.example.com/thanks?session={redirecting["id"]}"' in page.text
        assert http.get(f"/pay/{confirming['id']}/done").headers["location"] == f"/pay/{confirming['id']}"
        page = http.get(f"/pay/{confirming['id']}")
        assert "Thanks! Your tickets are on the way." in page.text
        assert "shop.example.com/thanks" not in page.text
        assert http.get(f"/pay/{confirming['id']}/payment").headers["location"] == f"/pay/{confirming['id']}/done"
        for action in ("update_amount", "pay", "remove_code"):  # a finished session takes no more changes
            late = post(http, f"/pay/{confirming['id']}", {"csrf_token": token, "action": action})
            assert (late.status_code, late.headers["location"]) == (303, f"/pay/{confirming['id']}")


def test_every_form_refuses_a_missing_or_forged_csrf_token(live: LiveServer, shop: Merchant) -> None:
    session = full_session(shop)
    http = browser(live)
    page = get_page(http, session)
    token = csrf_of(page)
    other = page_session(shop)
    other_token = csrf_of(http.get(f"/pay/{other['id']}").text)
    with closing(http):
        for path in ("", "/cancel", "/test-wallet"):
            url = f"/pay/{session['id']}{path}"
            for data, headers in (
                ({}, {}),
                ({"csrf_token": "0" * 64}, {}),
                ({"csrf_token": other_token}, {}),  # another session's token
                ({"csrf_token": token}, {"Sec-Fetch-Site": "cross-site"}),
            ):
                resp = post(http, url, data | {"action": "remove_code"} | VALID_VALUES, **headers)
                assert resp.status_code == 403, (url, data, headers)
                assert "Reload" in resp.text
        json_body = http.post(f"/pay/{session['id']}", json={"csrf_token": token})
        assert json_body.status_code == 403
    body = retrieve(shop, session["id"])
    assert body["discounts"][0]["coupon"]["code"] == "WELCOME"  # nothing changed
    assert body["customerDetails"] is None
    with live.database.read_sessions() as db:
        assert events_for(db, uuid.UUID(session["id"]), "checkout_session.canceled") == []


def test_server_validation_of_every_field(live: LiveServer, shop: Merchant) -> None:
    session = full_session(shop)
    resp = submit(live, session, {})
    assert resp.status_code == 400
    errors = field_errors(resp.text)
    assert errors == {
        "name": "Full name is required.",
        "email": "Email is required.",
        "phone": "Phone number is required.",
        "billing_line1": "Address line 1 is required.",
        "billing_city": "City is required.",
        "billing_postal_code": "Postal code is required.",
        "billing_country": "Country is required.",
        "shipping_name": "Recipient name is required.",
        "shipping_line1": "Address line 1 is required.",
        "shipping_city": "City is required.",
        "shipping_postal_code": "Postal code is required.",
        "shipping_country": "Country is required.",
        "custom_company": "Company is required.",
        "custom_size": "T-shirt size is required.",
    }  # not the optional "seats"
    bad = VALID_VALUES | {
        "email": "ada@",
        "phone": "call me",
        "custom_company": "AB",
        "custom_seats": "1a",
        "custom_size": "xl",
    }
    errors = field_errors(submit(live, session, bad).text)
    assert errors == {
        "email": "Enter a valid email address, like name@example.com.",
        "phone": "Enter a valid phone number: digits, spaces, ( ) . - and an optional leading +.",
        "custom_company": "Company must be at least 3 characters long.",
        "custom_seats": "Seats must contain digits only.",
        "custom_size": "Choose one of the options for T-shirt size.",
    }
    too_long = field_errors(submit(live, session, VALID_VALUES | {"custom_seats": "1234"}).text)
    assert too_long == {"custom_seats": "Seats must be at most 3 digits long."}
    assert retrieve(shop, session["id"])["customerDetails"] is None


def test_nothing_typed_is_lost_on_an_error(live: LiveServer, shop: Merchant) -> None:
    session = full_session(shop)
    typed = VALID_VALUES | {"email": "not-an-email", "custom_company": 'Quote " & <Co>'}
    page = submit(live, session, typed).text
    for name, value in typed.items():
        if name == "custom_size":
            assert '<option value="l" selected>Large</option>' in page
        else:
            escaped = value.replace("&", "&amp;").replace('"', "&#34;").replace("<", "&lt;").replace(">", "&gt;")
            assert re.search(rf'<input [^>]*name="{name}"[^>]*value="{re.escape(escaped)}"', page), name


def test_submitting_stores_the_details_and_moves_to_payment(live: LiveServer, shop: Merchant) -> None:
    session = full_session(shop)
    resp = submit(live, session, VALID_VALUES | {"custom_seats": ""})
    assert (resp.status_code, resp.headers["location"]) == (303, f"/pay/{session['id']}/payment")
    body = retrieve(shop, session["id"])
    address = {"line1": "1 Analytical Row", "city": "London", "postalCode": "N1 9GU", "country": "GB"}
    contact = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000"}
    assert body["customerDetails"] == contact | {"address": address}
    assert body["billingDetails"] == contact | {"address": address}
    assert body["shippingDetails"] == {
        "name": "Ada L.",
        "address": {"line1": "2 Engine Street", "city": "London", "postalCode": "N1 9GV", "country": "GB"},
    }
    values = {f["key"]: f[f["type"]]["value"] for f in body["customFields"]["fields"]}
    assert values == {"company": "Engines Ltd", "seats": "", "size": "l"}
    # Back on the page, the answers are there to edit.
    page = page_html(live, session)
    assert 'value="Ada Lovelace"' in page
    assert '<option value="l" selected>Large</option>' in page


def test_fields_are_prefilled_from_customer_data_and_the_customer(live: LiveServer, shop: Merchant) -> None:
    prefilled = page_session(
        shop, nameCollection=True, emailCollection=True, customerData={"name": "Grace", "email": "grace@example.com"}
    )
    page = page_html(live, prefilled)
    assert 'value="Grace"' in page
    assert 'value="grace@example.com"' in page
    customer = shop.http.post(
        "/api/v1/customers",
        json={"email": "linus@example.com", "name": "Linus", "address": {"line1": "Kernel Way 1", "city": "Espoo"}},
    ).json()
    attached = page_session(shop, customerId=customer["id"], emailCollection=True, billingAddressCollection=True)
    page = page_html(live, attached)
    assert 'value="linus@example.com"' in page
    assert 'value="Kernel Way 1"' in page
    assert 'value="Espoo"' in page


def test_only_what_the_session_asks_for_is_asked(live: LiveServer, shop: Merchant) -> None:
    session = page_session(shop, emailCollection=True)
    page = page_html(live, session)
    names = set(re.findall(r'<input id="f-[a-z0-9_]+" name="([a-z0-9_]+)"', page))
    assert names == {"email"}
    plain = page_session(shop)
    resp = submit(live, plain, {})
    assert resp.headers["location"] == f"/pay/{plain['id']}/payment"


@pytest.mark.parametrize(("submit_type", "label"), [("pay", "Pay 10.00 USDC"), ("book", "Book"), ("donate", "Donate")])
def test_submit_button_follows_submit_type(live: LiveServer, shop: Merchant, submit_type: str, label: str) -> None:
    page = page_html(live, page_session(shop, submitType=submit_type))
    assert re.search(rf"data-pay>{label}[^<]*</button>", page)


def test_on_the_page_a_code_is_removed_an_unknown_one_refused_and_a_valid_one_applied(
    live: LiveServer, shop: Merchant
) -> None:
    session = full_session(shop)
    http = browser(live)
    page = get_page(http, session)
    token = csrf_of(page)
    url = f"/pay/{session['id']}"
    assert "WELCOME" in page
    assert "9.00 USDC" in page
    with closing(http):
        removed = post(http, url, {"csrf_token": token, "action": "remove_code", "name": "Typed"})
        assert removed.status_code == 200
        assert "WELCOME" not in removed.text
        assert 'value="Typed"' in removed.text
        assert retrieve(shop, session["id"])["amountTotal"] == str(10 * USDC)
        bad = post(http, url, {"csrf_token": token, "action": "apply_code", "promotion_code": "NOPE"})
        assert bad.status_code == 400
        assert "NOPE is not a valid promotion code." in bad.text
        assert 'value="NOPE"' in bad.text
        good = post(http, url, {"csrf_token": token, "action": "apply_code", "promotion_code": "half"})
        assert good.status_code == 200
        assert "HALF" in good.text
        assert "50% off applied" in good.text
        assert re.search(r"<dd data-grand-total>5\.00 USDC</dd>", good.text)
        body = retrieve(shop, session["id"])
        assert (body["amountTotal"], body["discounts"][0]["coupon"]["code"]) == (str(5 * USDC), "HALF")


def test_a_typed_code_is_applied_on_pay_and_a_bad_one_stops_it(live: LiveServer, shop: Merchant) -> None:
    make_coupon(shop, code="TEN", percentOff=10)
    session = page_session(shop, allowPromotionCodes=True)
    resp = submit(live, session, {"promotion_code": "WRONG"})
    assert resp.status_code == 400
    assert "WRONG is not a valid promotion code." in resp.text
    resp = submit(live, session, {"promotion_code": "TEN"})
    assert resp.headers["location"] == f"/pay/{session['id']}/payment"
    assert retrieve(shop, session["id"])["amountTotal"] == str(9 * USDC)


def test_expired_and_currency_codes_say_why(live: LiveServer, shop: Merchant) -> None:
    make_coupon(shop, code="EUROS", amountOff=5 * USDC, currency="eurc")
    session = page_session(shop, allowPromotionCodes=True)
    resp = submit(live, session, {"promotion_code": "EUROS"}, action="apply_code")
    assert "The promotion code EUROS only applies to EURC." in resp.text


def test_codes_are_refused_when_not_allowed(live: LiveServer, shop: Merchant) -> None:
    make_coupon(shop, code="SNEAKY", percentOff=90)
    session = page_session(shop)
    page = page_html(live, session)
    assert "Promotion code" not in page
    resp = submit(live, session, {"promotion_code": "SNEAKY"}, action="apply_code")
    assert resp.status_code == 400
    assert retrieve(shop, session["id"])["discounts"] == []


def test_code_attempts_are_rate_limited_per_session(live: LiveServer, shop: Merchant) -> None:
    session = page_session(shop, allowPromotionCodes=True)
    http = browser(live)
    page = get_page(http, session)
    data = {"csrf_token": csrf_of(page), "action": "apply_code"}
    url = f"/pay/{session['id']}"
    with closing(http):
        statuses = [post(http, url, data | {"promotion_code": f"GUESS{i}"}).status_code for i in range(11)]
        assert statuses == [400] * 10 + [429]
        limited = post(http, url, data | {"promotion_code": "GUESS"})
        assert "Too many promotion code attempts. Try again in 10 minutes." in limited.text
        other = page_session(shop, allowPromotionCodes=True)  # the limit is per session
        assert submit(live, other, {"promotion_code": "X"}, action="apply_code").status_code == 400
        live.clock.advance(timedelta(minutes=10, seconds=1))
        try:
            assert post(http, url, data | {"promotion_code": "AGAIN"}).status_code == 400
        finally:
            live.clock.advance(-timedelta(minutes=10, seconds=1))


def test_the_attempt_limit_slides_and_keeps_few_rows(live: LiveServer, shop: Merchant) -> None:
    """Counted in the database: an attempt leaves the window `window` after it was made, and a refused attempt
    is not counted; old rows go as new attempts come."""
    session_id = uuid.UUID(page_session(shop, allowPromotionCodes=True)["id"])
    limiter = buyer_pricing.CodeAttemptLimiter(limit=2, window=timedelta(seconds=60))
    start = live.clock.now().replace(microsecond=0)  # stored to the millisecond

    def hit(seconds: float) -> int | None:
        with live.database.write_sessions() as db:
            try:
                limiter.hit(db, start + timedelta(seconds=seconds), session_id)
            except buyer_pricing.TooManyCodeAttempts as refused:
                return refused.retry_after
            finally:
                db.commit()
            return None

    assert [hit(0), hit(30), hit(40)] == [None, None, 20]
    assert hit(60.5) is None  # the first attempt left the window; the refused one never counted
    assert hit(61) == 29
    with live.database.read_sessions() as db:
        rows = db.scalars(select(CodeAttempt.attempted_at).where(CodeAttempt.session_id == session_id)).all()
    assert len(rows) == 2


def test_pay_what_you_want_amount(live: LiveServer, shop: Merchant) -> None:
    session = pwyw_session(shop)
    assert session["amountPending"] is True
    page = page_html(live, session)
    assert 'name="amount_0"' in page
    assert 'value="5.00"' in page
    assert "Choose an amount" in page
    assert "data-pay>Donate</button>" in page
    for typed, message in (
        ("1.99", "The amount must be at least 2.00 USDC."),
        ("500.00000001", "The amount must be at most 500.00 USDC."),
        ("12,50", "Enter an amount in numbers, like 12.50."),
        ("", "Amount is required."),
    ):
        resp = submit(live, session, {"amount_0": typed}, action="update_amount")
        assert (resp.status_code, field_errors(resp.text)) == (400, {"amount_0": message}), typed
    resp = submit(live, session, {"amount_0": "12.5"}, action="update_amount")
    assert resp.status_code == 200
    assert "Donate 12.50 USDC" in resp.text
    body = retrieve(shop, session["id"])
    assert (body["amountTotal"], body["amountPending"]) == (str(1_250_000_000), False)
    suggested = submit(live, session, {"amount_0": "12.5", "suggest": "amount_0=25.00"}, action="")
    assert "Donate 25.00 USDC" in suggested.text
    assert submit(live, session, {}).headers["location"] == f"/pay/{session['id']}/payment"
    assert retrieve(shop, session["id"])["amountTotal"] == str(25 * USDC)


def test_cancel_writes_the_event_once_and_goes_to_the_cancel_url(live: LiveServer, shop: Merchant) -> None:
    session = page_session(shop)
    http = browser(live)
    page = get_page(http, session)
    assert "Cancel and return to Test Shop" in page
    with closing(http):
        for _ in range(2):
            resp = post(http, f"/pay/{session['id']}/cancel", {"csrf_token": csrf_of(page)})
            assert (resp.status_code, resp.headers["location"]) == (
                303,
                f"https://shop.example.com/cart?session={session['id']}",
            )
    with live.database.read_sessions() as db:
        [event] = events_for(db, uuid.UUID(session["id"]), "checkout_session.canceled")
    assert event.data["id"] == session["id"]
    assert retrieve(shop, session["id"])["status"] == "open"  # the buyer may come back
    no_cancel = page_session(shop, cancelUrl=None)
    assert "Cancel and return" not in page_html(live, no_cancel)


def test_metadata_is_never_shown(live: LiveServer, shop: Merchant) -> None:
    session = page_session(shop, metadata={"internal": "margin-secret-42"}, clientReferenceId="ref-secret-7")
    page = page_html(live, session)
    assert "margin-secret-42" not in page
    assert "ref-secret-7" not in page


def test_payment_step_without_payment_methods(live: LiveServer, shop: Merchant) -> None:
    session = page_session(shop, emailCollection=True)
    with browser(live) as http:
        assert http.get(f"/pay/{session['id']}/payment").headers["location"] == f"/pay/{session['id']}"
    submit(live, session, {"email": "buyer@example.com"})
    with browser(live) as http:
        resp = http.get(f"/pay/{session['id']}/payment")
        assert resp.status_code == 200
        assert "No payment method is available for this checkout right now." in resp.text
        assert "Waiting for your payment" in resp.text
        assert '<meta http-equiv="refresh" content="15;url=/pay/' in resp.text  # no-JS status updates
        status = http.get(f"/pay/{session['id']}/status").json()
        assert (status["stage"], status["next"]) == ("waiting", None)
        complete(live, session["id"])
        assert http.get(f"/pay/{session['id']}/status").json()["next"] == f"/pay/{session['id']}/done"


def test_details_freeze_once_a_payment_is_seen(live: LiveServer, shop: Merchant) -> None:
    session = full_session(shop, paymentSetting={"allowedChains": [{"chainId": DEV_CHAIN_ID}]})
    http = browser(live)
    page = get_page(http, session)
    token = csrf_of(page)
    # A real transfer to the deposit address, short of the total: seen on chain, the session not complete.
    pay(live, session, 10**6)
    seen = wait_for(shop, session["id"], lambda body: len(body["paymentIntent"]["transactions"]) == 1)
    assert seen["status"] in ("open", "incomplete")
    with closing(http):
        assert http.get(f"/pay/{session['id']}").headers["location"] == f"/pay/{session['id']}/payment"
        for action in ("remove_code", "pay", "apply_code"):
            resp = post(http, f"/pay/{session['id']}", {"csrf_token": token, "action": action} | VALID_VALUES)
            assert resp.status_code == 303, action
        payment = http.get(f"/pay/{session['id']}/payment").text
        assert "Edit details" not in payment
        assert "Cancel and return" not in payment
    body = retrieve(shop, session["id"])
    assert body["customerDetails"] is None
    assert body["discounts"][0]["coupon"]["code"] == "WELCOME"


def test_nothing_to_pay_completes_on_submit(live: LiveServer, shop: Merchant) -> None:
    """A 100 % discount leaves nothing to pay: submitting the details completes the session."""
    make_coupon(shop, code="FREE100", percentOff=100)
    session = full_session(shop, defaultPromotionCode="FREE100")
    assert session["amountTotal"] == "0"
    resp = submit(live, session, VALID_VALUES)
    assert resp.status_code == 303
    body = retrieve(shop, session["id"])
    assert (body["status"], body["paymentStatus"]) == ("complete", "paid")
    assert body["customerDetails"]["email"] == VALID_VALUES["email"]
    with live.database.read_sessions() as db:
        assert [e.type for e in events_for(db, uuid.UUID(session["id"]))] == ["checkout_session.completed"]


def test_page_secret_from_the_environment(tmp_path: Any) -> None:
    """Processes that share KASSA_PAGE_SECRET accept each other's CSRF tokens; a short secret is refused."""
    from kassa.checkout.page_security import csrf_token, page_secret
    from kassa.config import ConfigError, load_settings

    shared = {"KASSA_DATA_DIR": str(tmp_path / "a"), "KASSA_PAGE_SECRET": "s" * 32}
    one = page_secret(load_settings(shared))
    other = page_secret(load_settings(shared | {"KASSA_DATA_DIR": str(tmp_path / "b")}))
    session_id = uuid.uuid4()
    assert csrf_token(one, session_id) == csrf_token(other, session_id)
    assert not (tmp_path / "a" / "page-secret").exists()  # nothing written when the secret is given
    with pytest.raises(ConfigError):
        page_secret(load_settings(shared | {"KASSA_PAGE_SECRET": "short"}))


def test_head_of_the_page(live: LiveServer, shop: Merchant) -> None:
    session = page_session(shop)
    with live.client() as http:
        resp = http.head(f"/pay/{session['id']}")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert resp.content == b""

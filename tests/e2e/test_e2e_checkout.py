"""The hosted checkout page in a real browser: fields, checks, codes, amounts, cancel, the end pages, XSS.

Browser tests run on the SQLite server only: the server-side behaviour is covered on both databases by
tests/test_pages_checkout.py, and a second browser pass would only double the time.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import Buyer
from e2e.pagekit import (
    VALID_VALUES,
    XSS,
    complete,
    full_session,
    page_session,
    product_price,
    pwyw_session,
    retrieve,
    set_org_name,
    shop_urls,
)
from factories import USDC
from support import LiveServer, Merchant

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def shown_errors(page: Page) -> dict[str, str]:
    errors = {}
    for box in page.locator("p.field-error:not([hidden])").all():
        name = (box.get_attribute("id") or "").removeprefix("f-").removesuffix("-error")
        errors[name] = box.inner_text()
    return errors


def fill(page: Page, values: dict[str, str]) -> None:
    for name, value in values.items():
        if name == "custom_size":
            page.select_option(f"#f-{name}", value)
        else:
            page.fill(f"#f-{name}", value)


def pay_button(page: Page) -> Any:
    return page.locator("button[data-pay]")


def test_browser_checks_every_field_like_the_server(
    buyer: Buyer, buyer_without_js: Buyer, live: LiveServer, shop: Merchant
) -> None:
    session = full_session(shop)
    path = f"/pay/{session['id']}"
    buyer.open(path)
    buyer.shot("checkout-form")
    bad = {"email": "ada@", "phone": "call me", "custom_company": "AB", "custom_seats": "1a"}
    for values in ({}, VALID_VALUES | bad):
        buyer_without_js.open(path)
        fill(buyer_without_js.page, values)
        pay_button(buyer_without_js.page).click()
        expect(buyer_without_js.page.locator(".form-error")).to_be_visible()
        server = shown_errors(buyer_without_js.page)
        buyer.open(path)
        fill(buyer.page, values)
        pay_button(buyer.page).click()
        expect(buyer.page.locator(".form-error")).to_be_visible()
        assert shown_errors(buyer.page) == server
        assert server  # every case here has errors
    assert buyer.posts == []  # the browser never sent the bad form
    assert buyer.page.evaluate("document.activeElement.id") == "f-email"  # focus on the first bad field
    assert buyer.page.get_attribute("#f-email", "aria-invalid") == "true"
    buyer.shot("checkout-errors")
    buyer_without_js.shot("checkout-errors-no-js")
    # Fixing a field clears its message as the buyer leaves it.
    buyer.page.fill("#f-email", "ada@example.com")
    buyer.page.focus("#f-phone")
    expect(buyer.page.locator("#f-email-error")).to_be_hidden()


def test_fill_every_kind_of_field_and_reach_the_payment_step(buyer: Buyer, live: LiveServer, shop: Merchant) -> None:
    session = full_session(shop)
    buyer.open(f"/pay/{session['id']}")
    expect(buyer.page.locator(".test-banner")).to_contain_text("Test mode")
    fill(buyer.page, VALID_VALUES | {"custom_seats": ""})
    buyer.page.press("#f-name", "Enter")  # Enter in a field pays (not "apply code")
    buyer.page.wait_for_url(re.compile(r"/payment$"))
    expect(buyer.page.locator("[data-no-methods]")).to_contain_text("No payment method is available")
    expect(buyer.page.locator("[data-status-headline]")).to_have_text("Waiting for your payment…")
    buyer.shot("payment-no-methods")
    body = retrieve(shop, session["id"])
    assert body["customerDetails"]["email"] == "ada@example.com"
    assert body["shippingDetails"]["name"] == "Ada L."
    assert {f["key"]: f[f["type"]]["value"] for f in body["customFields"]["fields"]}["size"] == "l"
    buyer.page.click("text=Edit details")
    expect(buyer.page.locator("#f-name")).to_have_value("Ada Lovelace")


def test_without_javascript_the_server_keeps_what_was_typed(buyer_without_js: Buyer, shop: Merchant) -> None:
    session = full_session(shop)
    page = buyer_without_js.page
    buyer_without_js.open(f"/pay/{session['id']}")
    fill(page, {"name": "Ada Lovelace", "email": "ada@example", "custom_size": "s"})
    pay_button(page).click()
    expect(page.locator("#f-email-error")).to_have_text("Enter a valid email address, like name@example.com.")
    expect(page.locator("#f-name")).to_have_value("Ada Lovelace")
    expect(page.locator("#f-email")).to_have_value("ada@example")
    expect(page.locator("#f-custom_size")).to_have_value("s")


def test_promotion_codes_in_the_browser(buyer: Buyer, shop: Merchant) -> None:
    session = full_session(shop)
    page = buyer.page
    buyer.open(f"/pay/{session['id']}")
    expect(page.locator("[data-applied-code]")).to_contain_text("WELCOME")
    expect(page.locator("[data-grand-total]")).to_have_text("9.00 USDC")
    page.fill("#f-name", "Typed before any code")
    page.click("button[value=remove_code]")
    expect(page.locator("#f-promotion_code")).to_be_visible()
    expect(page.locator("[data-grand-total]")).to_have_text("10.00 USDC")
    page.fill("#f-promotion_code", "NOPE")
    page.press("#f-promotion_code", "Enter")  # Enter in the code box applies the code
    expect(page.locator("#promo-message")).to_have_text("NOPE is not a valid promotion code.")
    expect(page.locator("#f-promotion_code")).to_have_value("NOPE")
    buyer.shot("code-rejected")
    page.fill("#f-promotion_code", "half")
    page.click("button[value=apply_code]")
    expect(page.locator("[data-applied-code]")).to_contain_text("HALF")
    expect(page.locator("[data-grand-total]")).to_have_text("5.00 USDC")
    expect(pay_button(page)).to_have_text("Pay 5.00 USDC")
    expect(page.locator("#f-name")).to_have_value("Typed before any code")  # nothing typed was lost
    expect(page.locator("#announce")).to_contain_text("HALF applied")
    assert page.url.endswith(session["id"])  # all in place, no navigation
    buyer.shot("code-applied")
    assert retrieve(shop, session["id"])["amountTotal"] == str(5 * USDC)


def test_pay_what_you_want(buyer: Buyer, shop: Merchant) -> None:
    session = pwyw_session(shop)
    page = buyer.page
    buyer.open(f"/pay/{session['id']}")
    expect(page.locator("#f-amount_0")).to_have_value("5.00")
    expect(pay_button(page)).to_have_text("Donate")
    page.fill("#f-amount_0", "1")
    page.locator("#f-amount_0").blur()
    expect(page.locator("#f-amount_0-error")).to_have_text("The amount must be at least 2.00 USDC.")
    page.fill("#f-amount_0", "12.5")
    page.locator("#f-amount_0").blur()
    expect(pay_button(page)).to_have_text("Donate 12.50 USDC")
    expect(page.locator("[data-grand-total]")).to_have_text("12.50 USDC")
    page.click("button[data-suggest][value='amount_0=25.00']")
    expect(page.locator("[data-grand-total]")).to_have_text("25.00 USDC")
    expect(page.locator("#f-amount_0")).to_have_value("25.00")
    buyer.shot("pay-what-you-want")
    pay_button(page).click()
    page.wait_for_url(re.compile(r"/payment$"))
    assert retrieve(shop, session["id"])["amountTotal"] == str(25 * USDC)


def test_cancel_returns_to_the_shop(buyer: Buyer, live: LiveServer, shop: Merchant) -> None:
    session = page_session(shop, **shop_urls(live))
    buyer.open(f"/pay/{session['id']}")
    buyer.page.click("text=Cancel and return to Test Shop")
    buyer.page.wait_for_url(f"{live.base_url}/healthz?shop=cart&session={session['id']}")


def test_expired_completed_and_unknown_pages(buyer: Buyer, live: LiveServer, shop: Merchant) -> None:
    page = buyer.page
    expired = page_session(shop, **shop_urls(live))
    assert shop.http.post(f"/api/v1/checkout/sessions/{expired['id']}/expire").status_code == 200
    buyer.open(f"/pay/{expired['id']}")
    expect(page.locator("h1")).to_have_text("This checkout has expired")
    buyer.shot("expired")
    page.click("text=Return to Test Shop")
    page.wait_for_url(f"{live.base_url}/healthz?shop=cart&session={expired['id']}")

    confirming = page_session(shop, afterCompletion="hosted_confirmation", afterCompletionConfirmMsg="See you soon!")
    assert complete(live, confirming["id"])
    buyer.open(f"/pay/{confirming['id']}/done")
    expect(page.locator("[data-confirm-message]")).to_have_text("See you soon!")
    buyer.shot("hosted-confirmation")

    redirecting = page_session(shop, **shop_urls(live))
    buyer.open(f"/pay/{redirecting['id']}")
    assert complete(live, redirecting["id"])
    buyer.open(f"/pay/{redirecting['id']}/done")
    page.wait_for_url(f"{live.base_url}/healthz?shop=thanks&session={redirecting['id']}")
    buyer.open(f"/pay/{redirecting['id']}")
    expect(page.locator("h1")).to_have_text("Payment complete")
    buyer.shot("complete")

    buyer.open("/pay/01234567-89ab-cdef-0123-456789abcdef")
    expect(page.locator("h1")).to_have_text("Checkout not found")
    buyer.shot("unknown")


def test_merchant_strings_stay_inert(buyer: Buyer, live: LiveServer, shop: Merchant) -> None:
    label = "<img src=x onerror=alert(3)>"  # custom field labels are at most 50 characters
    set_org_name(live, shop, f"Org {XSS}")
    price = product_price(shop, name=f"Name {XSS}", description=f"Description {XSS}")
    session = page_session(
        shop,
        price_id=price["id"],
        customFields={
            "fields": [
                {"key": "t", "type": "text", "label": {"custom": label}},
                {
                    "key": "d",
                    "type": "dropdown",
                    "label": {"custom": "Pick"},
                    "dropdown": {"options": [{"label": f"Option {XSS}", "value": "x"}]},
                },
            ]
        },
        afterCompletion="hosted_confirmation",
        afterCompletionConfirmMsg=f"Thanks {XSS}",
    )
    page = buyer.page
    buyer.open(f"/pay/{session['id']}")
    expect(page.locator(".merchant")).to_have_text(f"Org {XSS}")
    expect(page.locator(".item-name")).to_have_text(f"Name {XSS}")
    expect(page.locator(".item-description")).to_have_text(f"Description {XSS}")
    expect(page.locator("label[for=f-custom_t]")).to_have_text(label)
    expect(page.locator("#f-custom_d option[value=x]")).to_have_text(f"Option {XSS}")
    pay_button(page).click()  # the label also appears in the error message
    expect(page.locator("#f-custom_t-error")).to_have_text(f"{label} is required.")
    assert page.locator("img[src=x], script:not([src])").count() == 0
    buyer.shot("xss-inert")
    assert complete(live, session["id"])
    buyer.open(f"/pay/{session['id']}")
    expect(page.locator("[data-confirm-message]")).to_have_text(f"Thanks {XSS}")
    assert page.locator("img[src=x], script:not([src])").count() == 0
    assert buyer.dialogs == []

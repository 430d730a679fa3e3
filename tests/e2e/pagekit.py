"""Helpers shared by the hosted page tests (server-side `tests/test_pages_*.py` and the browser tests here)."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

from factories import USDC, make_coupon, session_body
from kassa.checkout.service.complete import complete_session
from support import LiveServer, Merchant

CANCEL_URL = "https://shop.example.com/cart?session={CHECKOUT_SESSION_ID}"
SUCCESS_URL = "https://shop.example.com/thanks?session={CHECKOUT_SESSION_ID}"
XSS = "<img src=x onerror=alert(1)><script>alert(2)</script>"

CUSTOM_FIELDS: dict[str, Any] = {
    "fields": [
        {
            "key": "company",
            "type": "text",
            "label": {"custom": "Company"},
            "text": {"minimumLength": 3, "maximumLength": 20},
        },
        {
            "key": "seats",
            "type": "numeric",
            "label": {"custom": "Seats"},
            "optional": True,
            "numeric": {"maximumLength": 3},
        },
        {
            "key": "size",
            "type": "dropdown",
            "label": {"custom": "T-shirt size"},
            "dropdown": {"options": [{"label": "Small", "value": "s"}, {"label": "Large", "value": "l"}]},
        },
    ]
}
ALL_FIELDS: dict[str, Any] = {
    "nameCollection": True,
    "emailCollection": True,
    "phoneNumberCollection": True,
    "billingAddressCollection": True,
    "shippingAddressCollection": True,
    "customFields": CUSTOM_FIELDS,
}
VALID_VALUES = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "phone": "+44 20 7946 0000",
    "billing_line1": "1 Analytical Row",
    "billing_city": "London",
    "billing_postal_code": "N1 9GU",
    "billing_country": "GB",
    "shipping_name": "Ada L.",
    "shipping_line1": "2 Engine Street",
    "shipping_city": "London",
    "shipping_postal_code": "N1 9GV",
    "shipping_country": "GB",
    "custom_company": "Engines Ltd",
    "custom_seats": "12",
    "custom_size": "l",
}


def shop_urls(live: LiveServer) -> dict[str, Any]:
    """successUrl and cancelUrl a browser in the tests can reach (it has no network beyond loopback): stand-in
    shop pages on the test server's own origin."""
    return {
        "successUrl": f"{live.base_url}/healthz?shop=thanks&session={{CHECKOUT_SESSION_ID}}",
        "cancelUrl": f"{live.base_url}/healthz?shop=cart&session={{CHECKOUT_SESSION_ID}}",
    }


def ok(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def product_price(
    shop: Merchant, *, name: str = "Widget", amount: int | None = 10 * USDC, **fields: Any
) -> dict[str, Any]:
    product = {"name": name} | {k: fields.pop(k) for k in ("description", "images") if k in fields}
    body = {"productData": product, "currency": "usdc"} | fields
    if amount is not None:
        body["unitAmount"] = amount
    return ok(shop.http.post("/api/v1/prices", json=body))


def page_session(shop: Merchant, *, price_id: str | None = None, quantity: int = 1, **fields: Any) -> dict[str, Any]:
    """A session as a merchant makes one for the hosted page: cancel URL, success URL with the id placeholder."""
    if price_id is None:
        price_id = product_price(shop, description="A very good widget")["id"]
    body = session_body(price_id=price_id, quantity=quantity, successUrl=SUCCESS_URL, cancelUrl=CANCEL_URL) | fields
    return ok(shop.http.post("/api/v1/checkout/sessions", json=body))


def full_session(shop: Merchant, **fields: Any) -> dict[str, Any]:
    """Every kind of field, promotion codes allowed, a default code (`WELCOME`, 10 % off) applied."""
    make_coupon(shop, code="WELCOME", percentOff=10)
    make_coupon(shop, code="HALF", percentOff=50)
    return page_session(
        shop, **(ALL_FIELDS | {"allowPromotionCodes": True, "defaultPromotionCode": "WELCOME"} | fields)
    )


def pwyw_session(shop: Merchant, **fields: Any) -> dict[str, Any]:
    price = product_price(
        shop,
        name="Tip jar",
        amount=None,
        customUnitMin=2 * USDC,
        customUnitMax=500 * USDC,
        customPreset=5 * USDC,
        customUnitAmountSuggestions=[5 * USDC, 10 * USDC, 25 * USDC],
    )
    return page_session(shop, price_id=price["id"], submitType="donate", **fields)


def retrieve(shop: Merchant, session_id: str) -> dict[str, Any]:
    return ok(shop.http.get(f"/api/v1/checkout/sessions/{session_id}"))


def complete(live: LiveServer, session_id: str) -> bool:
    with live.database.write_sessions() as db:
        done = complete_session(db, live.clock, uuid.UUID(session_id), public_url=live.settings.public_url)
        db.commit()
        return done


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert match is not None, "no CSRF token on the page"
    return match.group(1)


def field_errors(page: str) -> dict[str, str]:
    """The server's error messages by field name, as rendered next to each field."""
    found = re.findall(r'<p class="field-error" id="f-([a-z0-9_]+)-error">([^<]+)</p>', page)
    return {name: html.unescape(text) for name, text in found}


def set_org_name(live: LiveServer, shop: Merchant, name: str) -> None:
    from kassa.auth.models import Organization

    with live.database.write_sessions() as db:
        org = db.get(Organization, shop.organization_id)
        assert org is not None
        org.name = name
        db.commit()

"""Keyword-only factories that create objects through the public API, as a merchant would."""

from __future__ import annotations

from typing import Any

from support import LOCAL_CHAIN_ID, Merchant

USDC = 100_000_000
WALLET = "0x" + "ab" * 20


def _ok(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def make_price(
    shop: Merchant, *, amount: int | None = 10 * USDC, currency: str = "usdc", **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"productData": {"name": fields.pop("name", "Widget")}, "currency": currency} | fields
    if amount is not None:
        body["unitAmount"] = amount
    return _ok(shop.http.post("/api/v1/prices", json=body))


def make_tax_rate(shop: Merchant, *, percentage: float | str = 10, inclusive: bool = False) -> dict[str, Any]:
    body = {"name": "VAT", "percentage": percentage, "type": "inclusive" if inclusive else "exclusive"}
    return _ok(shop.http.post("/api/v1/tax-rates", json=body))


def make_coupon(shop: Merchant, *, code: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": f"Coupon {code}", "promotionCodeData": {"data": [{"code": code}]}} | fields
    if "amountOff" not in body and "percentOff" not in body:
        body["percentOff"] = 10
    return _ok(shop.http.post("/api/v1/coupons", json=body))


def session_body(*, price_id: str, quantity: int = 1, **fields: Any) -> dict[str, Any]:
    return {
        "successUrl": "https://shop.example.com/thanks?session={CHECKOUT_SESSION_ID}",
        "lineItems": {"data": [{"priceId": price_id, "quantity": quantity}]},
        "paymentSetting": {"allowedChains": [{"chainId": LOCAL_CHAIN_ID, "withdrawalAddress": WALLET}]},
    } | fields


def make_session(shop: Merchant, *, price_id: str | None = None, **fields: Any) -> dict[str, Any]:
    if price_id is None:
        price_id = make_price(shop)["id"]
    return _ok(shop.http.post("/api/v1/checkout/sessions", json=session_body(price_id=price_id, **fields)))

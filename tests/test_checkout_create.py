"""POST /checkout/sessions: every field of the contract, its default, and each way it can be wrong."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contract import assert_matches_operation
from factories import USDC, WALLET, make_coupon, make_price, make_session, make_tax_rate, session_body
from support import LOCAL_CHAIN_ID, LiveServer, Merchant, merchant


def create(shop: Merchant, body: dict[str, Any]) -> Any:
    return shop.http.post("/api/v1/checkout/sessions", json=body)


def rejects(shop: Merchant, body: dict[str, Any], field: str) -> list[str]:
    resp = create(shop, body)
    assert resp.status_code == 400, resp.text
    messages: list[str] = resp.json()["message"]
    assert isinstance(messages, list)
    assert any(m.startswith((f"{field}:", f"{field}.")) for m in messages), messages
    return messages


def test_minimal_session_defaults(live: LiveServer, shop: Merchant) -> None:
    price = make_price(shop, amount=25 * USDC)
    session = make_session(shop, price_id=price["id"])
    assert_matches_operation(session, "SessionsController_create")
    assert (session["status"], session["paymentStatus"], session["mode"]) == ("open", "unpaid", "payment")
    assert session["url"] == f"{live.settings.public_url}/pay/{session['id']}"
    assert session["successUrl"] == f"https://shop.example.com/thanks?session={session['id']}"
    assert session["submitType"] == "pay"
    assert session["customerCreation"] == "if_required"
    for flag in (
        "nameCollection",
        "emailCollection",
        "phoneNumberCollection",
        "billingAddressCollection",
        "shippingAddressCollection",
        "allowPromotionCodes",
    ):
        assert session[flag] is False, flag
    assert (session["amountSubtotal"], session["amountTotal"], session["currency"]) == (
        "2500000000",
        "2500000000",
        "usdc",
    )
    assert session["paymentIntent"]["status"] == "requires_payment_method"
    assert session["paymentIntent"]["transactions"] == []
    assert session["discounts"] == []
    line = session["lineItems"]["data"][0]
    assert line["price"]["id"] == price["id"]
    assert line["price"]["product"]["name"] == "Widget"
    created = datetime.fromisoformat(session["createdAt"])
    expires = datetime.fromisoformat(session["expiresAt"])
    assert timedelta(minutes=59) < expires - created <= timedelta(hours=1)
    assert session["organizationId"] == str(shop.organization_id)
    got = shop.http.get(f"/api/v1/checkout/sessions/{session['id']}").json()
    assert_matches_operation(got, "SessionsController_findOne")
    assert got == session


def test_every_option_is_stored_and_echoed(shop: Merchant) -> None:
    price = make_price(shop)
    customer = shop.http.post("/api/v1/customers", json={"email": "c@example.com"}).json()
    tax = make_tax_rate(shop, percentage=7.5)
    expires = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    body = session_body(
        price_id=price["id"],
        cancelUrl="https://shop.example.com/cart?s={CHECKOUT_SESSION_ID}",
        nameCollection=True,
        emailCollection=True,
        phoneNumberCollection=True,
        billingAddressCollection=True,
        shippingAddressCollection=True,
        customFields={
            "fields": [
                {
                    "key": "gift_note",
                    "type": "text",
                    "label": {"type": "custom", "custom": "Gift note"},
                    "optional": True,
                    "text": {"minimumLength": 2, "maximumLength": 100},
                },
                {
                    "key": "size",
                    "type": "dropdown",
                    "label": {"custom": "Size"},
                    "dropdown": {"options": [{"label": "S", "value": "s"}, {"label": "M", "value": "m"}]},
                },
                {"key": "age", "type": "numeric", "label": {"custom": "Age"}, "numeric": {"maximumLength": 3}},
            ]
        },
        expiresAt=expires,
        afterCompletion="hosted_confirmation",
        afterCompletionConfirmMsg="Thanks! We ship tomorrow.",
        submitType="donate",
        customerId=customer["id"],
        customerUpdate={"name": "auto", "address": "auto"},
        metadata={"order": "42"},
        clientReferenceId="order-42",
        allowPromotionCodes=True,
        taxRateIds=[tax["id"]],
    )
    body["paymentSetting"] |= {"preferredChainId": LOCAL_CHAIN_ID}
    session = create(shop, body).json()
    assert_matches_operation(session, "SessionsController_create")
    assert session["cancelUrl"] == f"https://shop.example.com/cart?s={session['id']}"
    assert session["customFields"]["fields"][1]["dropdown"]["options"][1] == {"label": "M", "value": "m"}
    assert [f["key"] for f in session["customFields"]["fields"]] == ["gift_note", "size", "age"]
    assert session["afterCompletionConfirmMsg"] == "Thanks! We ship tomorrow."
    assert (session["submitType"], session["customerId"], session["clientReferenceId"]) == (
        "donate",
        customer["id"],
        "order-42",
    )
    assert session["customer"]["email"] == "c@example.com"
    assert session["customerUpdate"] == {"address": "auto", "name": "auto", "shipping": "never"}
    assert session["metadata"] == {"order": "42"}
    assert session["paymentSetting"]["preferredChainId"] == LOCAL_CHAIN_ID
    assert session["paymentSetting"]["allowedChains"][0]["withdrawalAddress"].lower() == WALLET
    assert session["amountTax"] == str(75 * USDC // 100)
    assert session["amountTotal"] == str(10 * USDC + 75 * USDC // 100)
    line = session["lineItems"]["data"][0]
    assert line["taxRates"][0]["percentage"] == 7.5
    assert line["taxRates"][0]["isDefault"] is True
    assert datetime.fromisoformat(session["expiresAt"]) == datetime.fromisoformat(expires).replace(
        microsecond=datetime.fromisoformat(expires).microsecond // 1000 * 1000
    )


def test_several_line_items_with_own_taxes_and_promotion_code(shop: Merchant) -> None:
    a = make_price(shop, amount=30 * USDC, name="A")
    b = make_price(shop, amount=10 * USDC, name="B")
    vat = make_tax_rate(shop, percentage=20)
    inclusive = make_tax_rate(shop, percentage=10, inclusive=True)
    coupon = make_coupon(shop, code="TAKE5", amountOff=5 * USDC, currency="usdc")
    body = session_body(price_id=a["id"], quantity=2, defaultPromotionCode="take5", taxRateIds=[vat["id"]])
    body["lineItems"]["data"].append({"priceId": b["id"], "quantity": 1, "taxRateIds": [inclusive["id"]]})
    session = create(shop, body).json()
    assert_matches_operation(session, "SessionsController_create")
    # subtotal 70; 5 off shared 60:10, quotas 4.2857142857 and 0.7142857143: the unit left over after rounding
    # down goes to line A, which lost more to rounding
    line_a, line_b = session["lineItems"]["data"]
    assert (line_a["amountSubtotal"], line_a["amountDiscount"]) == (str(60 * USDC), str(60 * USDC * 5 // 70 + 1))
    assert int(line_a["amountDiscount"]) + int(line_b["amountDiscount"]) == 5 * USDC
    assert session["amountDiscount"] == str(5 * USDC)
    [discount] = session["discounts"]
    assert (discount["coupon"]["code"], discount["couponId"], discount["promotionCodeId"]) == (
        "TAKE5",
        coupon["id"],
        coupon["promotionCodes"][0]["id"],
    )
    assert session["amountDetails"]["discountAmounts"] == [{"amount": str(5 * USDC), "couponId": coupon["id"]}]
    total = sum(int(li["amountTotal"]) for li in session["lineItems"]["data"])
    assert session["amountTotal"] == str(total)
    assert int(session["amountTotal"]) == 65 * USDC + int(line_a["amountTax"])  # inclusive tax adds nothing


def test_invalid_default_promotion_code_still_creates_the_session(shop: Merchant) -> None:
    price = make_price(shop)
    make_coupon(shop, code="MAXED", maxRedemptions=1, isEnable=False)
    for code in ("NOPE", "MAXED"):
        session = make_session(shop, price_id=price["id"], defaultPromotionCode=code)
        assert session["discounts"] == []
        assert session["amountDiscount"] == "0"
        assert session["defaultPromotionCode"] == code


def test_inline_price_data(shop: Merchant) -> None:
    body = session_body(price_id="x")
    body["lineItems"] = {
        "data": [
            {"priceData": {"currency": "usdt", "unitAmount": "123", "productData": {"name": "Ad hoc"}}, "quantity": 3}
        ]
    }
    session = create(shop, body).json()
    line = session["lineItems"]["data"][0]
    assert (line["price"]["unitAmount"], line["price"]["product"]["name"], line["quantity"]) == ("123", "Ad hoc", 3)
    assert session["currency"] == "usdt"
    assert session["amountTotal"] == "369"


def test_pay_what_you_want_amount_is_open(shop: Merchant) -> None:
    price = make_price(shop, amount=None, customUnitMin=USDC, customUnitMax=100 * USDC)
    session = make_session(shop, price_id=price["id"])
    assert session["amountPending"] is True
    assert session["amountTotal"] == "0"
    assert session["lineItems"]["data"][0]["unitAmount"] is None
    assert session["lineItems"]["data"][0]["price"]["customUnitMax"] == str(100 * USDC)
    assert "quantity" in rejects(shop, session_body(price_id=price["id"], quantity=2), "lineItems.data.0")[0]


def test_subscription_mode(shop: Merchant) -> None:
    monthly = make_price(shop, type="recurring", interval="month")
    yearly = make_price(shop, type="recurring", interval="year")
    one_off = make_price(shop)
    session = make_session(shop, price_id=monthly["id"], mode="subscription")
    assert session["mode"] == "subscription"
    rejects(shop, session_body(price_id=monthly["id"]), "lineItems.data.0")  # recurring in payment mode
    rejects(shop, session_body(price_id=one_off["id"], mode="subscription"), "lineItems.data.0")
    mixed = session_body(price_id=monthly["id"], mode="subscription")
    mixed["lineItems"]["data"].append({"priceId": yearly["id"]})
    rejects(shop, mixed, "lineItems")


def _bodies(shop: Merchant) -> dict[str, tuple[dict[str, Any], str]]:
    price = make_price(shop)
    pid = price["id"]
    inactive = make_price(shop)
    shop.http.put(f"/api/v1/prices/{inactive['id']}", json={"isActive": False})
    usdt = make_price(shop, currency="usdt")
    off_tax = make_tax_rate(shop)
    shop.http.put(f"/api/v1/tax-rates/{off_tax['id']}/deactivate")
    many = {"data": [{"priceId": pid}] * 101}
    now = datetime.now(UTC)
    field = {"key": "k", "type": "text", "label": {"custom": "K"}}
    return {
        "no success url": ({"successUrl": None}, "successUrl"),
        "javascript url": ({"successUrl": "javascript:alert(1)"}, "successUrl"),
        "data url": ({"successUrl": "data:text/html,hi"}, "successUrl"),
        "relative url": ({"successUrl": "/thanks"}, "successUrl"),
        "bad cancel url": ({"cancelUrl": "ftp://x.example"}, "cancelUrl"),
        "no line items": ({"lineItems": {"data": []}}, "lineItems.data"),
        "101 line items": ({"lineItems": many}, "lineItems.data"),
        "both price forms": (
            {
                "lineItems": {
                    "data": [
                        {
                            "priceId": pid,
                            "priceData": {"currency": "usdc", "unitAmount": 1, "productData": {"name": "x"}},
                        }
                    ]
                }
            },
            "lineItems.data.0.priceId",
        ),
        "quantity zero": ({"lineItems": {"data": [{"priceId": pid, "quantity": 0}]}}, "lineItems.data.0.quantity"),
        "quantity fraction": (
            {"lineItems": {"data": [{"priceId": pid, "quantity": 1.5}]}},
            "lineItems.data.0.quantity",
        ),
        "unknown price": (
            {"lineItems": {"data": [{"priceId": "0190a1b2-0000-7000-8000-000000000000"}]}},
            "lineItems.data.0.priceId",
        ),
        "inactive price": ({"lineItems": {"data": [{"priceId": inactive["id"]}]}}, "lineItems.data.0.priceId"),
        "mixed currencies": ({"lineItems": {"data": [{"priceId": pid}, {"priceId": usdt["id"]}]}}, "lineItems.data.1"),
        "bad mode": ({"mode": "setup"}, "mode"),
        "too early expiry": ({"expiresAt": (now + timedelta(minutes=20)).isoformat()}, "expiresAt"),
        "too late expiry": ({"expiresAt": (now + timedelta(hours=25)).isoformat()}, "expiresAt"),
        "naive expiry": ({"expiresAt": "2030-01-01T00:00:00"}, "expiresAt"),
        "bad after completion": ({"afterCompletion": "close"}, "afterCompletion"),
        "long confirm msg": ({"afterCompletionConfirmMsg": "x" * 501}, "afterCompletionConfirmMsg"),
        "bad submit type": ({"submitType": "buy"}, "submitType"),
        "unknown customer": ({"customerId": "0190a1b2-0000-7000-8000-000000000000"}, "customerId"),
        "customer update alone": ({"customerUpdate": {"name": "auto"}}, "customerUpdate"),
        "bad customer creation": ({"customerCreation": "never"}, "customerCreation"),
        "bad prefill email": ({"customerData": {"email": "x"}}, "customerData.email"),
        "long reference": ({"clientReferenceId": "x" * 201}, "clientReferenceId"),
        "metadata": ({"metadata": {"k" * 41: "v"}}, "metadata"),
        "inactive tax rate": ({"taxRateIds": [off_tax["id"]]}, "taxRateIds"),
        "unknown tax rate": ({"taxRateIds": ["0190a1b2-0000-7000-8000-000000000000"]}, "taxRateIds"),
        "four custom fields": (
            {"customFields": {"fields": [field | {"key": f"k{i}"} for i in range(4)]}},
            "customFields.fields",
        ),
        "duplicate keys": ({"customFields": {"fields": [field, field]}}, "customFields.fields"),
        "bad key": ({"customFields": {"fields": [field | {"key": "a-b"}]}}, "customFields.fields.0.key"),
        "long label": (
            {"customFields": {"fields": [field | {"label": {"custom": "x" * 51}}]}},
            "customFields.fields.0.label.custom",
        ),
        "dropdown without options": (
            {"customFields": {"fields": [field | {"type": "dropdown"}]}},
            "customFields.fields.0.dropdown",
        ),
        "duplicate options": (
            {
                "customFields": {
                    "fields": [
                        field
                        | {
                            "type": "dropdown",
                            "dropdown": {"options": [{"label": "a", "value": "a"}, {"label": "b", "value": "a"}]},
                        }
                    ]
                }
            },
            "customFields.fields.0.dropdown.options",
        ),
        "min over max": (
            {"customFields": {"fields": [field | {"text": {"minimumLength": 5, "maximumLength": 2}}]}},
            "customFields.fields.0.text.minimumLength",
        ),
        "unknown chain": (
            {"paymentSetting": {"allowedChains": [{"chainId": 999999}]}},
            "paymentSetting.allowedChains.0.chainId",
        ),
        "mainnet in test mode": (
            {"paymentSetting": {"allowedChains": [{"chainId": 1}]}},
            "paymentSetting.allowedChains.0.chainId",
        ),
        "disabled chain": (
            {"paymentSetting": {"allowedChains": [{"chainId": 11155111}]}},
            "paymentSetting.allowedChains.0.chainId",
        ),
        "preferred not allowed": (
            {"paymentSetting": {"allowedChains": [{"chainId": LOCAL_CHAIN_ID}], "preferredChainId": 1}},
            "paymentSetting.preferredChainId",
        ),
        "fiat": ({"paymentSetting": {"allowFiatPayment": True}}, "paymentSetting.allowFiatPayment"),
        "bad withdrawal address": (
            {"paymentSetting": {"allowedChains": [{"chainId": LOCAL_CHAIN_ID, "withdrawalAddress": "0x123"}]}},
            "paymentSetting.allowedChains.0.withdrawalAddress",
        ),
        "splits not 100": (
            {
                "paymentSetting": {
                    "allowedChains": [
                        {
                            "chainId": LOCAL_CHAIN_ID,
                            "withdrawalAddresses": [
                                {"address": WALLET, "splitPercentage": 50},
                                {"address": "0x" + "cd" * 20, "splitPercentage": 40},
                            ],
                        }
                    ]
                }
            },
            "paymentSetting.allowedChains.0.withdrawalAddresses",
        ),
        "one split": (
            {
                "paymentSetting": {
                    "allowedChains": [
                        {
                            "chainId": LOCAL_CHAIN_ID,
                            "withdrawalAddresses": [{"address": WALLET, "splitPercentage": 100}],
                        }
                    ]
                }
            },
            "paymentSetting.allowedChains.0.withdrawalAddresses",
        ),
    }


CASES = [
    "no success url",
    "javascript url",
    "data url",
    "relative url",
    "bad cancel url",
    "no line items",
    "101 line items",
    "both price forms",
    "quantity zero",
    "quantity fraction",
    "unknown price",
    "inactive price",
    "mixed currencies",
    "bad mode",
    "too early expiry",
    "too late expiry",
    "naive expiry",
    "bad after completion",
    "long confirm msg",
    "bad submit type",
    "unknown customer",
    "customer update alone",
    "bad customer creation",
    "bad prefill email",
    "long reference",
    "metadata",
    "inactive tax rate",
    "unknown tax rate",
    "four custom fields",
    "duplicate keys",
    "bad key",
    "long label",
    "dropdown without options",
    "duplicate options",
    "min over max",
    "unknown chain",
    "mainnet in test mode",
    "disabled chain",
    "preferred not allowed",
    "fiat",
    "bad withdrawal address",
    "splits not 100",
    "one split",
]


@dataclass
class InvalidBodies:
    """One merchant, the objects the invalid bodies name, and the bodies, made once per database."""

    shop: Merchant
    price_id: str
    bodies: dict[str, tuple[dict[str, Any], str]]


@pytest.fixture(scope="module")
def invalid_bodies(live: LiveServer) -> Iterator[InvalidBodies]:
    with merchant(live, name="Invalid bodies") as shop:
        yield InvalidBodies(shop, make_price(shop)["id"], _bodies(shop))


def test_every_invalid_body_has_its_case(invalid_bodies: InvalidBodies) -> None:
    assert sorted(invalid_bodies.bodies) == sorted(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.replace(" ", "-") for case in CASES])
def test_each_invalid_field_is_a_400_naming_it(invalid_bodies: InvalidBodies, case: str) -> None:
    shop = invalid_bodies.shop
    change, field = invalid_bodies.bodies[case]
    body = session_body(price_id=invalid_bodies.price_id) | change
    if change.get("successUrl", "") is None:
        del body["successUrl"]
    resp = create(shop, body)
    assert resp.status_code == 400, resp.text
    messages = resp.json()["message"]
    assert any(m.startswith((f"{field}:", f"{field}.")) for m in messages), messages
    # Nothing half-written: the merchant has no session at all.
    assert shop.http.get("/api/v1/checkout/sessions").json()["count"] == 0


def test_other_organizations_objects_cannot_be_used(shop: Merchant, other_shop: Merchant) -> None:
    theirs = make_price(other_shop)
    their_customer = other_shop.http.post("/api/v1/customers", json={"email": "x@example.com"}).json()
    rejects(shop, session_body(price_id=theirs["id"]), "lineItems.data.0.priceId")
    mine = make_price(shop)
    rejects(shop, session_body(price_id=mine["id"], customerId=their_customer["id"]), "customerId")
    session = make_session(shop, price_id=mine["id"])
    assert other_shop.http.get(f"/api/v1/checkout/sessions/{session['id']}").status_code == 404
    assert other_shop.http.post(f"/api/v1/checkout/sessions/{session['id']}/expire").status_code == 404


@pytest.mark.parametrize("quantity", [1, 7])
def test_idempotent_create(shop: Merchant, quantity: int) -> None:
    price_id = make_price(shop)["id"]
    body = session_body(price_id=price_id, quantity=quantity)
    first = shop.http.post("/api/v1/checkout/sessions", json=body, headers={"Idempotency-Key": f"s-{quantity}"})
    again = shop.http.post("/api/v1/checkout/sessions", json=body, headers={"Idempotency-Key": f"s-{quantity}"})
    assert first.json() == again.json()
    assert shop.http.get("/api/v1/checkout/sessions").json()["count"] == 1

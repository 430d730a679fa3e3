"""Products and prices (fixed, recurring and pay-what-you-want)."""

from __future__ import annotations

from typing import Any

import pytest

from contract import assert_matches_operation
from support import Merchant


def product(shop: Merchant, **fields: Any) -> dict[str, Any]:
    body = {"name": "T-shirt"} | fields
    resp = shop.http.post("/api/v1/products", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def price(shop: Merchant, **fields: Any) -> dict[str, Any]:
    resp = shop.http.post("/api/v1/prices", json=fields)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def errors(resp: Any) -> list[str]:
    assert resp.status_code == 400, resp.text
    return resp.json()["message"]  # type: ignore[no-any-return]


def test_product_with_default_price(shop: Merchant) -> None:
    body = product(
        shop,
        description="Organic cotton",
        images=["https://cdn.example.com/a.png"],
        unitLabel="shirt",
        url="https://shop.example.com/t",
        metadata={"sku": "T-1"},
        defaultPriceData={"currency": "usdc", "unitAmount": "2500000000"},
    )
    assert_matches_operation(body, "ProductController_create")
    assert body["defaultPrice"]["unitAmount"] == "2500000000"
    assert body["defaultPrice"]["unitAmountDecimal"] == "25"
    assert body["defaultPriceId"] == body["defaultPrice"]["id"]
    assert body["images"] == body["publicImages"] == ["https://cdn.example.com/a.png"]
    got = shop.http.get(f"/api/v1/products/{body['id']}").json()
    assert_matches_operation(got, "ProductController_get")
    assert got == body
    got_price = shop.http.get(f"/api/v1/prices/{body['defaultPriceId']}").json()
    assert_matches_operation(got_price, "PriceController_get")
    assert got_price["product"]["id"] == body["id"]


def test_product_without_price(shop: Merchant) -> None:
    body = product(shop)
    assert body["defaultPrice"] is None
    assert body["isActive"] is True


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"images": [f"https://x.example/{i}.png" for i in range(9)]}, "images"),
        ({"images": ["javascript:alert(1)"]}, "images.0"),
        ({"url": "/relative"}, "url"),
        ({"unitLabel": "x" * 13}, "unitLabel"),
        ({"defaultPriceData": {"currency": "usdc"}}, "defaultPriceData.unitAmount"),
        ({"defaultPriceData": {"currency": "xyz", "unitAmount": 1}}, "defaultPriceData.currency"),
        ({"defaultPriceData": {"currency": "usdc", "unitAmount": 0}}, "defaultPriceData.unitAmount"),
        ({"defaultPriceData": {"currency": "usdc", "unitAmount": 1.5}}, "defaultPriceData.unitAmount"),
        ({"defaultPriceData": {"currency": "usdc", "unitAmount": 10**15 + 1}}, "defaultPriceData.unitAmount"),
        ({"defaultPriceData": {"currency": "usdc", "unitAmount": "12a"}}, "defaultPriceData.unitAmount"),
        ({"defaultPriceData": {"currency": "usdc", "unitAmount": 1, "type": "recurring"}}, "defaultPriceData.interval"),
    ],
)
def test_product_validation(shop: Merchant, fields: dict[str, Any], field: str) -> None:
    body = {"name": "T-shirt"} | fields
    messages = errors(shop.http.post("/api/v1/products", json=body))
    assert any(m.startswith(f"{field}:") for m in messages), messages
    assert shop.http.get("/api/v1/products").json()["count"] == 0
    assert shop.http.get("/api/v1/prices").json()["count"] == 0


def test_update_activate_deactivate_delete(shop: Merchant) -> None:
    body = product(shop, defaultPriceData={"currency": "usdc", "unitAmount": 100})
    pid = body["id"]
    updated = shop.http.put(f"/api/v1/products/{pid}", json={"name": "Hoodie", "description": "Warm"}).json()
    assert_matches_operation(updated, "ProductController_update")
    assert (updated["name"], updated["description"]) == ("Hoodie", "Warm")
    off = shop.http.put(f"/api/v1/products/{pid}/deactivate").json()
    assert_matches_operation(off, "ProductController_deactivate")
    assert off["isActive"] is False
    on = shop.http.put(f"/api/v1/products/{pid}/activate").json()
    assert_matches_operation(on, "ProductController_activate")
    assert on["isActive"] is True

    second = price(shop, productId=pid, currency="usdc", unitAmount=200)
    switched = shop.http.put(f"/api/v1/products/{pid}", json={"name": "Hoodie", "defaultPriceId": second["id"]})
    assert switched.json()["defaultPrice"]["unitAmount"] == "200"
    foreign = price(shop, productData={"name": "Other"}, currency="usdc", unitAmount=5)
    bad = shop.http.put(f"/api/v1/products/{pid}", json={"name": "Hoodie", "defaultPriceId": foreign["id"]})
    assert errors(bad) == ["defaultPriceId: must be a price of this product"]

    deleted = shop.http.delete(f"/api/v1/products/{pid}")
    assert_matches_operation(deleted.json(), "ProductController_delete")
    assert shop.http.get(f"/api/v1/products/{pid}").status_code == 404
    # Its prices stay readable (sessions refer to them) but stop selling.
    assert shop.http.get(f"/api/v1/prices/{second['id']}").json()["isActive"] is False


def test_recurring_price_rules(shop: Merchant) -> None:
    pid = product(shop)["id"]
    monthly = price(shop, productId=pid, currency="usdt", unitAmount=999, type="recurring", interval="month")
    assert_matches_operation(monthly, "PriceController_create")
    assert (monthly["interval"], monthly["intervalCount"]) == ("month", 1)
    quarterly = price(
        shop, productId=pid, currency="usdt", unitAmount=999, type="recurring", interval="month", intervalCount=3
    )
    assert quarterly["intervalCount"] == 3
    cases: list[tuple[dict[str, Any], str]] = [
        ({"type": "recurring"}, "interval"),
        ({"type": "one_time", "interval": "month"}, "interval"),
        ({"type": "recurring", "interval": "fortnight"}, "interval"),
        ({"type": "recurring", "interval": "year", "intervalCount": 4}, "intervalCount"),
        ({"type": "recurring", "interval": "day", "intervalCount": 0}, "intervalCount"),
        ({"type": "streaming"}, "type"),
        ({"type": "weekly"}, "type"),
    ]
    for extra, field in cases:
        messages = errors(
            shop.http.post("/api/v1/prices", json={"productId": pid, "currency": "usdt", "unitAmount": 1, **extra})
        )
        assert any(m.startswith(f"{field}:") for m in messages), (extra, messages)


def test_pay_what_you_want_price(shop: Merchant) -> None:
    body = price(
        shop,
        productData={"name": "Donation"},
        currency="usdc",
        customUnitMin="100000000",
        customUnitMax=100_000_000_000,
        customPreset=500000000,
        customUnitAmountSuggestions=[100000000, 500000000, 1000000000],
    )
    assert_matches_operation(body, "PriceController_create")
    assert body["unitAmount"] is None
    assert (body["customUnitMin"], body["customUnitMax"], body["customPreset"]) == (
        "100000000",
        "100000000000",
        "500000000",
    )
    assert body["customUnitAmountSuggestions"] == ["100000000", "500000000", "1000000000"]
    assert body["product"]["name"] == "Donation"
    assert body["product"]["defaultPriceId"] == body["id"]

    bad: list[tuple[dict[str, Any], str]] = [
        ({"customUnitMin": 10, "customUnitMax": 5}, "customUnitMax"),
        ({"customUnitMin": 10, "customPreset": 5}, "customPreset"),
        ({"customUnitMax": 10, "customUnitAmountSuggestions": [5, 20]}, "customUnitAmountSuggestions"),
        ({"unitAmount": 5, "customPreset": 5}, "unitAmount"),
        ({"type": "recurring", "interval": "month"}, "unitAmount"),
        ({"customUnitAmountSuggestions": [1, 2, 3, 4, 5, 6]}, "customUnitAmountSuggestions"),
    ]
    for extra, field in bad:
        messages = errors(
            shop.http.post("/api/v1/prices", json={"productData": {"name": "D"}, "currency": "usdc", **extra})
        )
        assert any(m.startswith(f"{field}:") for m in messages), (extra, messages)


def test_price_needs_exactly_one_product_reference(shop: Merchant) -> None:
    pid = product(shop)["id"]
    both = {"productId": pid, "productData": {"name": "x"}, "currency": "usdc", "unitAmount": 1}
    assert errors(shop.http.post("/api/v1/prices", json=both)) == [
        "productId: give exactly one of productId and productData"
    ]
    neither = {"currency": "usdc", "unitAmount": 1}
    assert errors(shop.http.post("/api/v1/prices", json=neither))
    unknown = {"productId": "0190a1b2-0000-7000-8000-000000000000", "currency": "usdc", "unitAmount": 1}
    assert shop.http.post("/api/v1/prices", json=unknown).status_code == 404


def test_price_update_only_changes_mutable_fields(shop: Merchant) -> None:
    body = price(shop, productData={"name": "P"}, currency="usdc", unitAmount=100)
    updated = shop.http.put(
        f"/api/v1/prices/{body['id']}",
        json={"isActive": False, "nickname": "legacy", "metadata": {"a": "b"}, "unitAmount": 5, "currency": "dai"},
    ).json()
    assert_matches_operation(updated, "PriceController_update")
    assert (updated["isActive"], updated["nickname"], updated["metadata"]) == (False, "legacy", {"a": "b"})
    assert (updated["unitAmount"], updated["currency"]) == ("100", "usdc")


def test_list_filters(shop: Merchant) -> None:
    p1 = product(shop, name="One", defaultPriceData={"currency": "usdc", "unitAmount": 1})
    p2 = product(
        shop,
        name="Sub",
        defaultPriceData={"currency": "usdt", "unitAmount": 1, "type": "recurring", "interval": "year"},
    )
    p3 = product(shop, name="Off", isActive=False)
    listed = shop.http.get("/api/v1/products").json()
    assert_matches_operation(listed, "ProductController_findAll")
    assert [p["id"] for p in listed["data"]] == [p3["id"], p2["id"], p1["id"]]

    def names(params: dict[str, str]) -> list[str]:
        return [p["name"] for p in shop.http.get("/api/v1/products", params=params).json()["data"]]

    assert names({"isActive": "false"}) == ["Off"]
    assert names({"priceTypes": "recurring"}) == ["Sub"]
    assert names({"priceTypes": "one_time,recurring"}) == ["Sub", "One"]
    assert names({"interval": "year"}) == ["Sub"]
    assert names({"priceCurrency": "usdc"}) == ["One"]
    assert shop.http.get("/api/v1/products", params={"isActive": "maybe"}).status_code == 400
    assert shop.http.get("/api/v1/products", params={"priceTypes": "weekly"}).status_code == 400

    prices = shop.http.get("/api/v1/prices", params={"type": "recurring"}).json()
    assert_matches_operation(prices, "PriceController_findAll")
    assert [p["productId"] for p in prices["data"]] == [p2["id"]]
    by_product = shop.http.get("/api/v1/prices", params={"productId": p1["id"]}).json()
    assert [p["id"] for p in by_product["data"]] == [p1["defaultPriceId"]]


def test_isolation(shop: Merchant, other_shop: Merchant) -> None:
    body = product(shop, defaultPriceData={"currency": "usdc", "unitAmount": 1})
    for path in (f"/api/v1/products/{body['id']}", f"/api/v1/prices/{body['defaultPriceId']}"):
        assert other_shop.http.get(path).status_code == 404
    assert other_shop.http.put(f"/api/v1/products/{body['id']}/deactivate").status_code == 404
    assert other_shop.http.put(f"/api/v1/prices/{body['defaultPriceId']}", json={"isActive": False}).status_code == 404
    steal = {"productId": body["id"], "currency": "usdc", "unitAmount": 1}
    assert other_shop.http.post("/api/v1/prices", json=steal).status_code == 404
    assert other_shop.http.get("/api/v1/products").json()["count"] == 0


def test_create_is_idempotent(shop: Merchant) -> None:
    body = {"name": "Once", "defaultPriceData": {"currency": "usdc", "unitAmount": 1}}
    first = shop.http.post("/api/v1/products", json=body, headers={"Idempotency-Key": "prod-1"}).json()
    again = shop.http.post("/api/v1/products", json=body, headers={"Idempotency-Key": "prod-1"}).json()
    assert first == again
    assert shop.http.get("/api/v1/prices").json()["count"] == 1

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from contract import assert_matches_operation
from support import Merchant

FULL = {
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "phone": "+44 20 7946 0000",
    "organizationName": "Analytical Engines Ltd",
    "address": {
        "line1": "1 Main St",
        "line2": "Flat 2",
        "city": "London",
        "state": "LDN",
        "postalCode": "N1",
        "country": "GB",
    },
    "shipping": {
        "name": "Ada",
        "phone": "+44 20 7946 0001",
        "address": {"line1": "2 Side St", "country": "GB"},
    },
    "customerReferenceId": "crm-42",
    "metadata": {"tier": "gold", "seats": 3, "vip": True},
    "taxIds": {"data": [{"name": "gb_vat", "value": "GB123456789", "country": "GB"}]},
    "visibility": "20",
}


def test_create_with_every_field(shop: Merchant) -> None:
    resp = shop.http.post("/api/v1/customers", json=FULL)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert_matches_operation(body, "CustomerController_create")
    for key in ("email", "name", "phone", "organizationName", "address", "customerReferenceId", "metadata"):
        assert body[key] == FULL[key], key
    assert body["shipping"]["address"] == {"line1": "2 Side St", "country": "GB"}
    assert body["visibility"] == 20
    tax = body["taxIds"]["data"][0]
    assert (tax["name"], tax["value"], tax["country"], tax["customerId"]) == (
        "gb_vat",
        "GB123456789",
        "GB",
        body["id"],
    )
    assert body["customerNumber"].startswith("TCUS-")


def test_customer_numbers_are_sequential_and_unique_under_concurrency(shop: Merchant) -> None:
    with ThreadPoolExecutor(max_workers=10) as pool:
        bodies = list(
            pool.map(
                lambda i: shop.post_alone("/api/v1/customers", {"email": f"n{i}@example.com"}).json(),
                range(20),
            )
        )
    numbers = sorted(b["customerNumber"] for b in bodies)
    assert numbers == [f"TCUS-{i:06d}" for i in range(1, 21)]


def test_retrieve_update_delete(shop: Merchant) -> None:
    created = shop.http.post("/api/v1/customers", json=FULL).json()
    cid = created["id"]
    got = shop.http.get(f"/api/v1/customers/{cid}").json()
    assert got == created
    assert_matches_operation(got, "CustomerController_get")

    updated = shop.http.put(f"/api/v1/customers/{cid}", json={"email": "new@example.com", "name": "Ada L."}).json()
    assert_matches_operation(updated, "CustomerController_update")
    assert (updated["email"], updated["name"]) == ("new@example.com", "Ada L.")
    assert updated["phone"] == FULL["phone"]  # fields not sent are kept
    assert updated["updatedAt"] >= created["updatedAt"]

    cleared = shop.http.put(f"/api/v1/customers/{cid}", json={"email": "new@example.com", "phone": None}).json()
    assert cleared["phone"] is None

    deleted = shop.http.delete(f"/api/v1/customers/{cid}")
    assert deleted.status_code == 200
    assert_matches_operation(deleted.json(), "CustomerController_delete")
    assert shop.http.get(f"/api/v1/customers/{cid}").status_code == 404
    assert shop.http.delete(f"/api/v1/customers/{cid}").status_code == 404
    assert shop.http.get("/api/v1/customers").json()["count"] == 0


def test_update_requires_email_like_the_contract(shop: Merchant) -> None:
    cid = shop.http.post("/api/v1/customers", json={"email": "a@example.com"}).json()["id"]
    resp = shop.http.put(f"/api/v1/customers/{cid}", json={"name": "x"})
    assert resp.status_code == 400
    assert resp.json()["message"] == ["email: is required"]


def test_list_filters(shop: Merchant) -> None:
    shop.http.post("/api/v1/customers", json={"email": "a@example.com", "customerReferenceId": "r1"})
    shop.http.post("/api/v1/customers", json={"email": "b@example.com", "customerReferenceId": "r2"})
    shop.http.post("/api/v1/customers", json={"email": "b@example.com"})
    page = shop.http.get("/api/v1/customers", params={"email": "b@example.com"}).json()
    assert_matches_operation(page, "CustomerController_findAll")
    assert page["count"] == 2
    assert page["query"]["email"] == "b@example.com"
    by_ref = shop.http.get("/api/v1/customers", params={"customerReferenceId": "r1"}).json()
    assert [c["email"] for c in by_ref["data"]] == ["a@example.com"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@example.com", "name": ""}, "name"),
        ({"email": "a@example.com", "name": "x" * 201}, "name"),
        ({"email": "a@example.com" + "x" * 320}, "email"),
        ({"email": "a@example.com", "taxIds": {"data": [{"name": "", "value": "1"}]}}, "taxIds.data.0.name"),
        ({"email": "a@example.com", "shipping": {"email": "nope"}}, "shipping.email"),
        ({"email": "a@example.com", "address": "Main St"}, "address"),
        ({"email": 5}, "email"),
    ],
)
def test_validation_rules(shop: Merchant, body: dict[str, object], field: str) -> None:
    resp = shop.http.post("/api/v1/customers", json=body)
    assert resp.status_code == 400
    assert any(m.startswith(f"{field}:") for m in resp.json()["message"]), resp.json()

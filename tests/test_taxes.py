from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest

from contract import assert_matches_operation
from kassa.auth.keys import Principal, issue_key
from kassa.auth.models import Organization
from kassa.errors import BadRequest
from kassa.taxes.models import TaxRate
from kassa.taxes.service import get_active_tax_rates
from support import LiveServer, Merchant

FULL = {
    "name": "VAT",
    "percentage": 7.25,
    "type": "inclusive",
    "country": "DE",
    "description": "German reduced VAT",
    "isActive": True,
    "metadata": {"code": "de-reduced", "rank": 2, "legacy": False},
}


def create(shop: Merchant, **fields: Any) -> dict[str, Any]:
    resp = shop.http.post("/api/v1/tax-rates", json={"name": "Tax", "percentage": 5, **fields})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def messages(resp: Any) -> list[str]:
    assert resp.status_code == 400, resp.text
    found: list[str] = resp.json()["message"]
    return found


def stored_percentage_e4(live: LiveServer, tax_rate_id: str) -> int:
    with live.database.read_sessions() as db:
        rate = db.get(TaxRate, uuid.UUID(tax_rate_id))
        assert rate is not None
        return rate.percentage_e4


def test_create_with_every_field(shop: Merchant) -> None:
    resp = shop.http.post("/api/v1/tax-rates", json=FULL)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert_matches_operation(body, "TaxRateController_create")
    for key in ("name", "percentage", "type", "country", "description", "isActive", "metadata"):
        assert body[key] == FULL[key], key
    assert body["object"] == "tax_rate"
    assert body["organizationId"] == str(shop.organization_id)
    assert body["livemode"] is False
    assert body["createdAt"] == body["updatedAt"]
    assert str(uuid.UUID(body["id"])) == body["id"]  # a canonical UUID string
    assert uuid.UUID(body["id"]).version == 7
    assert shop.http.get(f"/api/v1/tax-rates/{body['id']}").json() == body


def test_create_defaults(shop: Merchant) -> None:
    body = shop.http.post("/api/v1/tax-rates", json={"name": "  Sales tax  ", "percentage": 8}).json()
    assert_matches_operation(body, "TaxRateController_create")
    assert body["name"] == "Sales tax"
    assert body["type"] == "exclusive"
    assert body["isActive"] is True
    assert (body["description"], body["country"], body["metadata"]) == (None, None, None)


@pytest.mark.parametrize(
    ("sent", "text", "e4"),
    [
        (7.25, "7.25", 72500),
        (0.0001, "0.0001", 1),
        (99.9999, "99.9999", 999999),
        (100, "100", 1000000),
        (0, "0", 0),
        (19.6, "19.6", 196000),
        ("12.5", "12.5", 125000),
        (" 7.2500 ", "7.25", 72500),
        ("0.0001", "0.0001", 1),
        ("1e1", "10", 100000),
    ],
)
def test_percentage_is_exact(live: LiveServer, shop: Merchant, sent: object, text: str, e4: int) -> None:
    resp = shop.http.post("/api/v1/tax-rates", json={"name": "Exact", "percentage": sent})
    assert resp.status_code == 200, resp.text
    # A JSON number with exactly these digits: neither a string nor a float's binary noise.
    assert f'"percentage":{text}' in resp.text.replace(" ", "")
    body = json.loads(resp.text, parse_float=Decimal)
    assert body["percentage"] == Decimal(text)
    assert_matches_operation(resp.json(), "TaxRateController_create")
    assert stored_percentage_e4(live, body["id"]) == e4
    again = shop.http.get(f"/api/v1/tax-rates/{body['id']}")
    assert f'"percentage":{text}' in again.text


def test_percentage_sent_as_raw_json_text_keeps_its_digits(live: LiveServer, shop: Merchant) -> None:
    raw = b'{"name": "Raw", "percentage": 33.3333}'
    resp = shop.http.post("/api/v1/tax-rates", content=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    assert '"percentage":33.3333' in resp.text
    assert stored_percentage_e4(live, resp.json()["id"]) == 333333


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"percentage": 5}, "name"),
        ({"name": "", "percentage": 5}, "name"),
        ({"name": "   ", "percentage": 5}, "name"),
        ({"name": "x" * 201, "percentage": 5}, "name"),
        ({"name": {"text": "5"}, "percentage": 5}, "name"),
        ({"name": "Tax"}, "percentage"),
        ({"name": "Tax", "percentage": -1}, "percentage"),
        ({"name": "Tax", "percentage": -0.0001}, "percentage"),
        ({"name": "Tax", "percentage": 101}, "percentage"),
        ({"name": "Tax", "percentage": 100.0001}, "percentage"),
        ({"name": "Tax", "percentage": 7.12345}, "percentage"),
        ({"name": "Tax", "percentage": "7.12345"}, "percentage"),
        ({"name": "Tax", "percentage": "abc"}, "percentage"),
        ({"name": "Tax", "percentage": ""}, "percentage"),
        ({"name": "Tax", "percentage": "NaN"}, "percentage"),
        ({"name": "Tax", "percentage": "Infinity"}, "percentage"),
        ({"name": "Tax", "percentage": True}, "percentage"),
        ({"name": "Tax", "percentage": None}, "percentage"),
        ({"name": "Tax", "percentage": [5]}, "percentage"),
        ({"name": "Tax", "percentage": 5, "type": "other"}, "type"),
        ({"name": "Tax", "percentage": 5, "country": "x" * 61}, "country"),
        ({"name": "Tax", "percentage": 5, "description": "x" * 501}, "description"),
        ({"name": "Tax", "percentage": 5, "isActive": "maybe"}, "isActive"),
        ({"name": "Tax", "percentage": 5, "metadata": "x"}, "metadata"),
        ({"name": "Tax", "percentage": 5, "metadata": {"k": {"nested": 1}}}, "metadata"),
    ],
)
def test_validation_rules(shop: Merchant, body: dict[str, object], field: str) -> None:
    resp = shop.http.post("/api/v1/tax-rates", json=body)
    assert any(m.startswith(f"{field}:") for m in messages(resp)), resp.json()
    assert shop.http.get("/api/v1/tax-rates").json()["count"] == 0


def test_too_many_decimals_says_so(shop: Merchant) -> None:
    resp = shop.http.post("/api/v1/tax-rates", json={"name": "Tax", "percentage": 7.12345})
    assert messages(resp) == ["percentage: must have at most 4 decimal places"]
    resp = shop.http.post("/api/v1/tax-rates", json={"name": "Tax", "percentage": 101})
    assert messages(resp) == ["percentage: must be between 0 and 100"]


def test_retrieve_and_update(shop: Merchant) -> None:
    created = shop.http.post("/api/v1/tax-rates", json=FULL).json()
    rid = created["id"]
    got = shop.http.get(f"/api/v1/tax-rates/{rid}")
    assert got.status_code == 200
    assert got.json() == created
    assert_matches_operation(got.json(), "TaxRateController_get")

    resp = shop.http.put(f"/api/v1/tax-rates/{rid}", json={"name": "VAT (reduced)", "country": "AT"})
    assert resp.status_code == 200, resp.text
    updated = resp.json()
    assert_matches_operation(updated, "TaxRateController_update")
    assert (updated["name"], updated["country"]) == ("VAT (reduced)", "AT")
    # Fields not sent are kept; percentage and type never change.
    for key in ("description", "metadata", "isActive", "percentage", "type", "createdAt"):
        assert updated[key] == created[key], key
    assert updated["updatedAt"] >= created["updatedAt"]

    cleared = shop.http.put(
        f"/api/v1/tax-rates/{rid}",
        json={"name": "VAT", "description": None, "country": None, "metadata": None, "isActive": False},
    ).json()
    assert (cleared["description"], cleared["country"], cleared["metadata"]) == (None, None, None)
    assert cleared["isActive"] is False
    assert shop.http.get(f"/api/v1/tax-rates/{rid}").json() == cleared


def test_update_requires_name_like_the_contract(shop: Merchant) -> None:
    rid = create(shop)["id"]
    resp = shop.http.put(f"/api/v1/tax-rates/{rid}", json={"description": "x"})
    assert messages(resp) == ["name: is required"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"percentage": 8}, "percentage"),
        ({"percentage": 5}, "percentage"),  # even the current value: the field is not updatable
        ({"percentage": None}, "percentage"),
        ({"type": "inclusive"}, "type"),
        ({"type": "exclusive"}, "type"),
    ],
)
def test_update_refuses_percentage_and_type(shop: Merchant, change: dict[str, object], field: str) -> None:
    created = create(shop)
    resp = shop.http.put(f"/api/v1/tax-rates/{created['id']}", json={"name": "Renamed", **change})
    found = messages(resp)
    assert len(found) == 1
    assert found[0].startswith(f"{field}: cannot be changed"), found
    # Nothing was applied, not even the name.
    assert shop.http.get(f"/api/v1/tax-rates/{created['id']}").json() == created


def test_activate_and_deactivate(live: LiveServer, shop: Merchant) -> None:
    created = create(shop)
    rid = created["id"]
    resp = shop.http.put(f"/api/v1/tax-rates/{rid}/deactivate")
    assert resp.status_code == 200, resp.text
    deactivated = resp.json()
    assert_matches_operation(deactivated, "TaxRateController_deactivate")
    assert deactivated["isActive"] is False
    assert deactivated["percentage"] == created["percentage"]
    assert shop.http.get(f"/api/v1/tax-rates/{rid}").json()["isActive"] is False

    again = shop.http.put(f"/api/v1/tax-rates/{rid}/deactivate").json()
    assert again == deactivated  # a repeat is a no-op

    resp = shop.http.put(f"/api/v1/tax-rates/{rid}/activate")
    assert resp.status_code == 200, resp.text
    activated = resp.json()
    assert_matches_operation(activated, "TaxRateController_activate")
    assert activated["isActive"] is True
    assert shop.http.get(f"/api/v1/tax-rates/{rid}").json()["isActive"] is True

    inactive_from_start = create(shop, isActive=False)
    assert inactive_from_start["isActive"] is False
    assert shop.http.put(f"/api/v1/tax-rates/{inactive_from_start['id']}/activate").json()["isActive"] is True


def test_list_filters(shop: Merchant) -> None:
    vat = create(shop, name="VAT", country="DE", type="inclusive")
    sales = create(shop, name="Sales", country="US")
    old = create(shop, name="Old", country="DE", isActive=False)

    page = shop.http.get("/api/v1/tax-rates").json()
    assert_matches_operation(page, "TaxRateController_findAll")
    assert [r["id"] for r in page["data"]] == [old["id"], sales["id"], vat["id"]]
    assert page["query"] == {"page": 1, "limit": 200}

    active = shop.http.get("/api/v1/tax-rates", params={"isActive": "true"}).json()
    assert_matches_operation(active, "TaxRateController_findAll")
    assert [r["id"] for r in active["data"]] == [sales["id"], vat["id"]]
    assert active["query"]["isActive"] is True
    inactive = shop.http.get("/api/v1/tax-rates", params={"isActive": "false"}).json()
    assert [r["id"] for r in inactive["data"]] == [old["id"]]
    assert inactive["query"]["isActive"] is False

    inclusive = shop.http.get("/api/v1/tax-rates", params={"type": "inclusive"}).json()
    assert [r["id"] for r in inclusive["data"]] == [vat["id"]]
    german = shop.http.get("/api/v1/tax-rates", params={"country": "DE"}).json()
    assert [r["id"] for r in german["data"]] == [old["id"], vat["id"]]
    assert german["query"]["country"] == "DE"
    both = shop.http.get("/api/v1/tax-rates", params={"country": "DE", "isActive": "true"}).json()
    assert [r["id"] for r in both["data"]] == [vat["id"]]


@pytest.mark.parametrize(("params", "field"), [({"isActive": "maybe"}, "isActive"), ({"type": "other"}, "type")])
def test_bad_list_filters_are_400(shop: Merchant, params: dict[str, str], field: str) -> None:
    resp = shop.http.get("/api/v1/tax-rates", params=params)
    assert any(m.startswith(f"{field}:") for m in messages(resp)), resp.json()


def test_pagination_and_ids(shop: Merchant) -> None:
    created = [create(shop, name=f"Tax {i}", percentage=i) for i in range(5)]
    expected = [r["id"] for r in reversed(created)]
    seen: list[str] = []
    for page_no in (1, 2, 3):
        page = shop.http.get("/api/v1/tax-rates", params={"page": page_no, "limit": 2}).json()
        assert_matches_operation(page, "TaxRateController_findAll")
        assert page["count"] == 5
        assert page["hasMore"] is (page_no < 3)
        seen += [r["id"] for r in page["data"]]
    assert seen == expected
    picked = shop.http.get("/api/v1/tax-rates", params={"ids": f"{created[0]['id']},{created[3]['id']}"}).json()
    assert [r["id"] for r in picked["data"]] == [created[3]["id"], created[0]["id"]]
    assert [r["percentage"] for r in picked["data"]] == [3, 0]


def test_idempotent_create(shop: Merchant) -> None:
    key = str(uuid.uuid4())
    headers = {"Idempotency-Key": key}
    first = shop.http.post("/api/v1/tax-rates", json=FULL, headers=headers)
    second = shop.http.post("/api/v1/tax-rates", json=FULL, headers=headers)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.text == first.text
    assert first.headers.get("idempotent-replayed") is None
    assert second.headers.get("idempotent-replayed") == "true"
    assert shop.http.get("/api/v1/tax-rates").json()["count"] == 1
    other = shop.http.post("/api/v1/tax-rates", json={**FULL, "percentage": 8}, headers=headers)
    assert "different parameters" in str(messages(other))


def test_other_organizations_tax_rates_are_invisible(shop: Merchant, other_shop: Merchant) -> None:
    created = create(shop, name="Mine")
    rid = created["id"]
    requests: list[tuple[str, str, dict[str, object] | None]] = [
        ("GET", f"/api/v1/tax-rates/{rid}", None),
        ("PUT", f"/api/v1/tax-rates/{rid}", {"name": "Stolen"}),
        ("PUT", f"/api/v1/tax-rates/{rid}/activate", None),
        ("PUT", f"/api/v1/tax-rates/{rid}/deactivate", None),
    ]
    for method, path, body in requests:
        resp = other_shop.http.request(method, path, json=body)
        assert resp.status_code == 404, (method, path)
        assert resp.json()["statusCode"] == 404
    assert other_shop.http.get("/api/v1/tax-rates", params={"ids": rid}).json()["count"] == 0
    assert shop.http.get(f"/api/v1/tax-rates/{rid}").json() == created


def test_other_modes_tax_rates_are_invisible(live: LiveServer, shop: Merchant) -> None:
    created = create(shop, name="Test mode")
    with live.database.write_sessions() as db:
        org = db.get(Organization, shop.organization_id)
        assert org is not None
        live_key = issue_key(db, live.clock, org, "live").secret
        db.commit()
    with live.client(live_key) as http:
        assert http.get(f"/api/v1/tax-rates/{created['id']}").status_code == 404
        assert http.put(f"/api/v1/tax-rates/{created['id']}/deactivate").status_code == 404
        assert http.get("/api/v1/tax-rates").json()["count"] == 0
        live_rate = http.post("/api/v1/tax-rates", json={"name": "Live", "percentage": 20}).json()
        assert live_rate["livemode"] is True
    assert [r["id"] for r in shop.http.get("/api/v1/tax-rates").json()["data"]] == [created["id"]]


@pytest.mark.parametrize("rid", ["not-a-uuid", str(uuid.uuid4())])
def test_unknown_ids_are_404(shop: Merchant, rid: str) -> None:
    for method, path in [("GET", ""), ("PUT", "/activate"), ("PUT", "/deactivate")]:
        resp = shop.http.request(method, f"/api/v1/tax-rates/{rid}{path}")
        assert resp.status_code == 404, (method, path)
    assert shop.http.put(f"/api/v1/tax-rates/{rid}", json={"name": "x"}).status_code == 404


def test_a_session_takes_only_the_callers_active_tax_rates_in_the_order_given_and_each_once(
    live: LiveServer, shop: Merchant, other_shop: Merchant
) -> None:
    first = create(shop, name="First", percentage=7.25)
    second = create(shop, name="Second", percentage="0.0001", type="inclusive")
    inactive = create(shop, name="Off", isActive=False)
    foreign = create(other_shop, name="Theirs")
    principal = Principal(organization_id=shop.organization_id, mode="test", api_key_id=uuid.uuid4())
    first_id, second_id = uuid.UUID(first["id"]), uuid.UUID(second["id"])
    missing_id = uuid.uuid4()

    with live.database.write_sessions() as db:
        rates = get_active_tax_rates(db, principal, [second_id, first_id])
        assert [r.id for r in rates] == [second_id, first_id]
        assert [(r.percentage_e4, r.type) for r in rates] == [(1, "inclusive"), (72500, "exclusive")]
        assert [r.id for r in get_active_tax_rates(db, principal, [first_id, second_id])] == [first_id, second_id]
        assert get_active_tax_rates(db, principal, []) == []

        with pytest.raises(BadRequest) as bad:
            get_active_tax_rates(db, principal, [first_id, missing_id, uuid.UUID(inactive["id"])])
        assert bad.value.message == [
            f"taxRateIds: tax rate {missing_id} does not exist",
            f"taxRateIds: tax rate {inactive['id']} is not active",
        ]
        with pytest.raises(BadRequest) as bad:
            get_active_tax_rates(db, principal, [uuid.UUID(foreign["id"])])
        assert bad.value.message == [f"taxRateIds: tax rate {foreign['id']} does not exist"]
        with pytest.raises(BadRequest) as bad:
            get_active_tax_rates(db, principal, [first_id, first_id])
        assert bad.value.message == [f"taxRateIds: tax rate {first_id} is listed more than once"]

        live_mode = Principal(organization_id=shop.organization_id, mode="live", api_key_id=uuid.uuid4())
        with pytest.raises(BadRequest) as bad:
            get_active_tax_rates(db, live_mode, [first_id])
        assert bad.value.message == [f"taxRateIds: tax rate {first_id} does not exist"]
        db.rollback()

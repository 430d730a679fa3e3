from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from support import LiveServer, Merchant


def make_customers(shop: Merchant, n: int) -> list[dict[str, Any]]:
    return [shop.http.post("/api/v1/customers", json={"email": f"c{i}@example.com"}).json() for i in range(n)]


def test_envelope_and_defaults(shop: Merchant) -> None:
    make_customers(shop, 3)
    page = shop.http.get("/api/v1/customers").json()
    assert set(page) == {"page", "limit", "count", "hasMore", "query", "data"}
    assert (page["page"], page["limit"], page["count"], page["hasMore"]) == (1, 200, 3, False)
    assert page["query"] == {"page": 1, "limit": 200}


def test_newest_first_and_pages_cover_everything_once(shop: Merchant) -> None:
    created = make_customers(shop, 7)
    expected = [c["id"] for c in reversed(created)]
    seen: list[str] = []
    for page_no in (1, 2, 3):
        page = shop.http.get("/api/v1/customers", params={"page": page_no, "limit": 3}).json()
        assert page["count"] == 7
        assert page["hasMore"] is (page_no < 3)
        seen += [c["id"] for c in page["data"]]
    assert seen == expected
    beyond = shop.http.get("/api/v1/customers", params={"page": 4, "limit": 3}).json()
    assert beyond["data"] == []
    assert beyond["hasMore"] is False
    assert beyond["count"] == 7


def test_exact_page_boundary(shop: Merchant) -> None:
    make_customers(shop, 4)
    page = shop.http.get("/api/v1/customers", params={"page": 2, "limit": 2}).json()
    assert len(page["data"]) == 2
    assert page["hasMore"] is False


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 0}, "page"),
        ({"page": -1}, "page"),
        ({"page": "x"}, "page"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"createdAt[gt]": "yesterday"}, "createdAt.gt"),
        ({"ids": "not-a-uuid"}, "ids"),
    ],
)
def test_bad_pagination_params_are_400(shop: Merchant, params: dict[str, str | int], field: str) -> None:
    resp = shop.http.get("/api/v1/customers", params=params)
    assert resp.status_code == 400
    assert any(m.startswith(f"{field}:") for m in resp.json()["message"])


def test_limit_bounds_accepted(shop: Merchant) -> None:
    make_customers(shop, 2)
    assert len(shop.http.get("/api/v1/customers", params={"limit": 1}).json()["data"]) == 1
    assert shop.http.get("/api/v1/customers", params={"limit": 200}).json()["limit"] == 200


def test_created_at_filters(live: LiveServer, shop: Merchant) -> None:
    first = make_customers(shop, 1)[0]
    live.clock.advance(timedelta(seconds=5))
    try:
        second = make_customers(shop, 1)[0]
    finally:
        live.clock.advance(timedelta(seconds=-5))
    t1, t2 = first["createdAt"], second["createdAt"]

    def ids(params: dict[str, str]) -> list[str]:
        return [c["id"] for c in shop.http.get("/api/v1/customers", params=params).json()["data"]]

    assert ids({"createdAt[gt]": t1}) == [second["id"]]
    assert ids({"createdAt[gte]": t1}) == [second["id"], first["id"]]
    assert ids({"createdAt[lt]": t2}) == [first["id"]]
    assert ids({"createdAt[lte]": t2, "createdAt[gte]": t2}) == [second["id"]]
    echo = shop.http.get("/api/v1/customers", params={"createdAt[gt]": t1}).json()["query"]
    assert echo["createdAt"] == {"gt": t1}


def test_ids_filter(shop: Merchant) -> None:
    a, b, c = make_customers(shop, 3)
    as_list = shop.http.get("/api/v1/customers", params=[("ids", a["id"]), ("ids", c["id"])]).json()
    assert [x["id"] for x in as_list["data"]] == [c["id"], a["id"]]
    comma = shop.http.get("/api/v1/customers", params={"ids": f"{b['id']},{c['id']}"}).json()
    assert {x["id"] for x in comma["data"]} == {b["id"], c["id"]}

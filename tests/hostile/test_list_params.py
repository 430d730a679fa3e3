"""Issue #10 point 4: list and export parameters that overflow an offset, a date or a column are a 400 naming the
parameter, never a 500 — on every list endpoint and the checkout-session export, on both databases.

The limits are `kassa.api.pagination`'s: page × limit ≤ MAX_OFFSET_ROWS, timestamps within what converts to UTC
(years 1 to 9999 in UTC), at most MAX_IDS ids.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from factories import make_session
from kassa.api.pagination import MAX_IDS, MAX_LIMIT, MAX_OFFSET_ROWS
from support import LiveServer, Merchant

LIST_ENDPOINTS = [
    "/api/v1/customers",
    "/api/v1/products",
    "/api/v1/prices",
    "/api/v1/tax-rates",
    "/api/v1/coupons",
    "/api/v1/checkout/sessions",
    "/api/v1/events",
    "/api/v1/webhook-endpoints",
    "/api/v1/chains",
    "/api/v1/assets",
    "/api/v1/transactions",
]
EXPORT = "/api/v1/checkout/sessions/export"
HUGE = "100000000000000000000"  # 10^20: past BIGINT, past SQLite's INTEGER
# Valid ISO-8601 date-times that leave datetime's range once converted to UTC.
BEFORE_YEAR_1 = "0001-01-01T00:00:00+14:00"
AFTER_YEAR_9999 = "9999-12-31T23:59:59-14:00"


def refused(shop: Merchant, path: str, params: Any, field: str) -> list[str]:
    resp = shop.http.get(path, params=params)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert (body["statusCode"], body["error"]) == (400, "Bad Request")
    assert any(m.startswith(f"{field}:") for m in body["message"]), body["message"]
    messages: list[str] = body["message"]
    return messages


def listed(shop: Merchant, path: str, params: Any) -> dict[str, Any]:
    resp = shop.http.get(path, params=params)
    assert resp.status_code == 200, resp.text
    page: dict[str, Any] = resp.json()
    return page


def test_the_list_covers_every_list_endpoint(live: LiveServer, shop: Merchant) -> None:
    """Every GET route without a path parameter that answers without parameters but refuses `page=0` is a list
    endpoint, and is tested here."""
    paths = {path for path, ops in live.app.openapi()["paths"].items() if "get" in ops and "{" not in path}
    validating_page = {
        p
        for p in paths
        if shop.http.get(p, params={"page": "0"}).status_code == 400 and shop.http.get(p).status_code == 200
    }
    assert validating_page == set(LIST_ENDPOINTS)


@pytest.mark.parametrize("path", LIST_ENDPOINTS)
def test_page_past_the_offset_bound_is_400(shop: Merchant, path: str) -> None:
    refused(shop, path, {"page": HUGE}, "page")
    refused(shop, path, {"page": HUGE, "limit": 1}, "page")
    deepest = MAX_OFFSET_ROWS // MAX_LIMIT
    refused(shop, path, {"page": deepest + 1, "limit": MAX_LIMIT}, "page")
    refused(shop, path, {"page": MAX_OFFSET_ROWS + 1, "limit": 1}, "page")
    page = listed(shop, path, {"page": deepest, "limit": MAX_LIMIT})
    assert (page["page"], page["data"], page["hasMore"]) == (deepest, [], False)
    assert listed(shop, path, {"page": MAX_OFFSET_ROWS, "limit": 1})["data"] == []


@pytest.mark.parametrize("path", LIST_ENDPOINTS)
def test_dates_that_overflow_utc_are_400(shop: Merchant, path: str) -> None:
    for op in ("gt", "gte", "lt", "lte"):
        refused(shop, path, {f"createdAt[{op}]": BEFORE_YEAR_1}, f"createdAt.{op}")
        refused(shop, path, {f"createdAt[{op}]": AFTER_YEAR_9999}, f"createdAt.{op}")
    both = refused(shop, path, {"createdAt[gte]": BEFORE_YEAR_1, "createdAt[lte]": AFTER_YEAR_9999}, "createdAt.gte")
    assert any(m.startswith("createdAt.lte:") for m in both)


@pytest.mark.parametrize("path", LIST_ENDPOINTS)
def test_the_extreme_dates_in_range_are_accepted(shop: Merchant, path: str) -> None:
    page = listed(shop, path, {"createdAt[gte]": "0001-01-01T00:00:00Z", "createdAt[lte]": "9999-12-31T23:59:59.999Z"})
    assert page["query"]["createdAt"] == {"gte": "0001-01-01T00:00:00.000Z", "lte": "9999-12-31T23:59:59.999Z"}
    # An offset that stays in range is converted, not refused.
    shifted = listed(shop, path, {"createdAt[lt]": "9999-12-31T10:00:00+09:00"})
    assert shifted["query"]["createdAt"] == {"lt": "9999-12-31T01:00:00.000Z"}


@pytest.mark.parametrize("path", LIST_ENDPOINTS)
def test_too_many_ids_is_400(shop: Merchant, path: str) -> None:
    ids = ",".join(f"00000000-0000-7000-8000-{i:012d}" for i in range(MAX_IDS + 1))
    refused(shop, path, {"ids": ids}, "ids")
    assert listed(shop, path, {"ids": ids.rsplit(",", 1)[0]})["count"] == 0


def test_extreme_dates_select_rows_on_the_database(shop: Merchant) -> None:
    """The bounds reach the database's comparison (not only the echo), and match everything between them."""
    session = make_session(shop)
    customer = shop.http.post("/api/v1/customers", json={"email": "edge@example.com"}).json()
    wide = {"createdAt[gte]": "0001-01-01T00:00:00Z", "createdAt[lte]": "9999-12-31T23:59:59.999Z"}
    assert [s["id"] for s in listed(shop, "/api/v1/checkout/sessions", wide)["data"]] == [session["id"]]
    assert [c["id"] for c in listed(shop, "/api/v1/customers", wide)["data"]] == [customer["id"]]
    for op, moment in (("lt", "0001-01-01T00:00:00Z"), ("gt", "9999-12-31T23:59:59.999Z")):
        assert listed(shop, "/api/v1/checkout/sessions", {f"createdAt[{op}]": moment})["data"] == []
    rows = list(csv.DictReader(io.StringIO(shop.http.get(EXPORT, params={"from": "0001-01-01"}).text)))
    assert [r["id"] for r in rows] == [session["id"]]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/transactions", {"chainId": HUGE}, "chainId"),
        ("/api/v1/transactions", {"chainId": "-1"}, "chainId"),
        ("/api/v1/products", {"intervalCount": HUGE}, "intervalCount"),
        ("/api/v1/products", {"intervalCount": "-1"}, "intervalCount"),
    ],
)
def test_integer_filters_past_their_column_are_400(
    shop: Merchant, path: str, params: dict[str, str], field: str
) -> None:
    refused(shop, path, params, field)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": BEFORE_YEAR_1}, "from"),
        ({"to": AFTER_YEAR_9999}, "to"),
        ({"from": AFTER_YEAR_9999}, "from"),
        ({"createdAt[gte]": BEFORE_YEAR_1}, "createdAt.gte"),
        ({"createdAt[lt]": AFTER_YEAR_9999}, "createdAt.lt"),
        ({"from": "soon"}, "from"),
    ],
)
def test_export_dates_that_overflow_are_400(shop: Merchant, params: dict[str, str], field: str) -> None:
    refused(shop, EXPORT, params, field)

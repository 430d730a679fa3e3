"""Point 2a (and 8, first part): text with a NUL or another control character is refused with a 400 naming the
field, at every entry point (API bodies, query parameters, page forms), the same on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from e2e.pagekit import VALID_VALUES, csrf_of, field_errors, full_session, retrieve
from factories import make_price, session_body
from support import LiveServer, Merchant

CONTROLS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\n", "\t", "\r"]


def assert_field_error(resp: httpx.Response, field: str, status: int = 400) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["statusCode"] == status
    assert body["error"] == "Bad Request"
    assert any(m.startswith(f"{field}: ") and "control characters" in m for m in body["message"]), body


@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_a_customer_name_with_a_control_character_is_refused_and_nothing_is_stored(shop: Merchant, char: str) -> None:
    resp = shop.http.post("/api/v1/customers", json={"email": "eve@example.com", "name": f"Eve{char}"})
    assert_field_error(resp, "name")
    assert shop.http.get("/api/v1/customers").json()["count"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "eve@example.com", "address": {"line1": "1 Road\x00"}}, "address.line1"),
        ({"email": "eve@example.com", "metadata": {"order\x00id": "1"}}, "metadata.order?id"),
        ({"email": "eve@example.com", "metadata": {"orderId": "10\x1b42"}}, "metadata.orderId"),
        ({"email": "eve\x00@example.com"}, "email"),
    ],
)
def test_nested_fields_and_metadata_keys_are_named(shop: Merchant, body: dict[str, Any], field: str) -> None:
    assert_field_error(shop.http.post("/api/v1/customers", json=body), field)


def test_a_description_may_span_lines_but_holds_no_other_control_character(shop: Merchant) -> None:
    resp = shop.http.post("/api/v1/products", json={"name": "Mug", "description": "Line one\r\nLine\ttwo"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["description"] == "Line one\r\nLine\ttwo"
    assert_field_error(shop.http.post("/api/v1/products", json={"name": "Mug", "description": "a\x00b"}), "description")
    assert_field_error(shop.http.post("/api/v1/products", json={"name": "Mug\nMug"}), "name")
    # Only a resource's own description is multi-line text; a metadata key that happens to be named so is not.
    resp = shop.http.post("/api/v1/products", json={"name": "Mug", "metadata": {"description": "a\tb"}})
    assert_field_error(resp, "metadata.description")


@pytest.mark.parametrize("url_field", ["successUrl", "cancelUrl"])
@pytest.mark.parametrize("url", ["https://shop\x0c.example.com/ok", "https://shop.example.com/ok\r\nSet-Cookie: a=b"])
def test_success_and_cancel_urls_with_control_characters_are_refused_at_creation(
    shop: Merchant, url_field: str, url: str
) -> None:
    price = make_price(shop)
    body = session_body(price_id=price["id"], successUrl="https://shop.example.com/ok") | {url_field: url}
    assert_field_error(shop.http.post("/api/v1/checkout/sessions", json=body), url_field)
    assert shop.http.get("/api/v1/checkout/sessions").json()["count"] == 0


@pytest.mark.parametrize("query", ["email=eve%00", "email=%1b", "ids=%7f", "page=1%00", "e%00vil=1"])
def test_query_parameters_with_control_characters_are_refused(shop: Merchant, query: str) -> None:
    resp = shop.http.get(f"/api/v1/customers?{query}")
    assert resp.status_code == 400, resp.text
    [message] = resp.json()["message"]
    assert "control characters" in message
    name = query.split("=")[0]
    assert message.startswith("e?vil:" if "%00" in name else f"{name}:")


def test_a_control_character_in_the_path_is_refused(shop: Merchant) -> None:
    resp = shop.http.get(f"/api/v1/customers/{uuid.uuid4()}%00")
    assert resp.status_code == 400
    assert resp.json()["message"] == ["path: must not contain control characters"]


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f"], ids=["NUL", "ESC", "DEL"])
def test_the_hosted_page_refuses_a_name_with_a_control_character(live: LiveServer, shop: Merchant, char: str) -> None:
    session = full_session(shop)
    with live.client() as http:
        page = http.get(f"/pay/{session['id']}").text
        values = VALID_VALUES | {"name": f"Eve{char}", "custom_company": f"Acme{char}"}
        resp = http.post(f"/pay/{session['id']}", data={"csrf_token": csrf_of(page), "action": "pay"} | values)
    assert resp.status_code == 400
    errors = field_errors(resp.text)
    assert errors["name"] == "Full name must not contain control characters."
    assert "control characters" in errors["custom_company"]
    stored = retrieve(shop, session["id"])
    assert stored["customerDetails"] is None or stored["customerDetails"].get("name") is None


def test_the_hosted_page_refuses_a_promotion_code_with_a_control_character(live: LiveServer, shop: Merchant) -> None:
    session = full_session(shop, defaultPromotionCode=None)  # the code box shows only while no code is applied
    with live.client() as http:
        page = http.get(f"/pay/{session['id']}").text
        form = {"csrf_token": csrf_of(page), "action": "apply_code", "promotion_code": "HALF\x00"}
        resp = http.post(f"/pay/{session['id']}", data=form)
    assert resp.status_code == 400
    [message] = re.findall(r'id="promo-message" role="alert">([^<]*)<', resp.text)
    assert message == "Must not contain control characters."
    assert retrieve(shop, session["id"])["amountDiscount"] == "0"  # HALF was not applied

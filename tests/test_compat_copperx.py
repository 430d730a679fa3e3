"""Copperx compatibility (issue #12).

Point 1: what Copperx's server accepts, and real clients send (a PHP plugin, for one), Kassa takes: numbers for
text, integral floats for integer amounts, any JSON number in metadata. One rule in `ApiModel` and
`parse_integer`, so every request model follows it. Point 3: the completed poll carries the transaction hash.
"""

from __future__ import annotations

import json

import pytest

from contract import assert_matches_operation
from factories import make_price, session_body
from support import LiveServer, Merchant
from test_payments_devnet import dev_session, pay, wait_for


def post_json(shop: Merchant, path: str, text: str) -> dict[str, object]:
    # Raw text, as PHP's json_encode writes it: httpx would write 2345000000.0 the same, but this says it plainly.
    resp = shop.http.post(path, content=text.encode(), headers={"content-type": "application/json"})
    assert resp.status_code == 200, resp.text
    body: dict[str, object] = resp.json()
    return body


def test_a_number_where_text_is_expected_is_stored_as_its_text(shop: Merchant) -> None:
    price = make_price(shop)
    body = session_body(price_id=price["id"]) | {"clientReferenceId": 1042}
    session = post_json(shop, "/api/v1/checkout/sessions", json.dumps(body))
    assert session["clientReferenceId"] == "1042"
    customer = post_json(shop, "/api/v1/customers", '{"email": "a@example.com", "name": 7, "phone": 4420794600}')
    assert (customer["name"], customer["phone"]) == ("7", "4420794600")


def test_an_integral_float_amount_is_that_integer(shop: Merchant) -> None:
    price = post_json(
        shop, "/api/v1/prices", '{"productData": {"name": "Mug"}, "currency": "usdc", "unitAmount": 2345000000.0}'
    )
    assert price["unitAmount"] == "2345000000"
    body = session_body(price_id=str(price["id"]))
    body["lineItems"]["data"][0]["quantity"] = 2.0
    session = post_json(shop, "/api/v1/checkout/sessions", json.dumps(body))
    assert session["amountTotal"] == "4690000000"


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("unitAmount", '{"productData": {"name": "Mug"}, "currency": "usdc", "unitAmount": 2345000000.5}'),
        ("unitAmount", '{"productData": {"name": "Mug"}, "currency": "usdc", "unitAmount": 1e16}'),
    ],
)
def test_a_fractional_or_inexact_float_amount_is_a_400_naming_the_field(shop: Merchant, field: str, text: str) -> None:
    resp = shop.http.post("/api/v1/prices", content=text.encode(), headers={"content-type": "application/json"})
    assert resp.status_code == 400
    [message] = resp.json()["message"]
    assert message.startswith(f"{field}: must be an integer")
    assert shop.http.get("/api/v1/prices").json()["count"] == 0


def test_metadata_takes_any_json_number_and_gives_it_back_as_sent(shop: Merchant) -> None:
    customer = post_json(
        shop,
        "/api/v1/customers",
        '{"email": "a@example.com", "metadata": {"weight": 20.0, "rate": 3.45, "count": 7, "tiny": 1e-7}}',
    )
    assert customer["metadata"] == {"weight": 20.0, "rate": 3.45, "count": 7, "tiny": 1e-7}
    fetched = shop.http.get(f"/api/v1/customers/{customer['id']}")
    assert '"weight":20.0' in fetched.text.replace(" ", "")
    assert fetched.json()["metadata"] == customer["metadata"]


def test_booleans_are_not_numbers_for_text(shop: Merchant) -> None:
    resp = shop.http.post("/api/v1/customers", json={"email": "a@example.com", "name": True})
    assert resp.status_code == 400
    assert resp.json()["message"][0].startswith("name: ")


def test_the_completed_poll_carries_the_transaction_hash_once_paid(live: LiveServer, shop: Merchant) -> None:
    """Issue #12, point 3: the reference says this poll "returns only a status of checkout session with its
    transaction hash"."""
    session = dev_session(shop)
    path = f"/api/v1/checkout/sessions/{session['id']}/completed_webhook_delivered"
    before = shop.http.get(path).json()
    assert before["completed"] is False
    assert "transactionHash" not in before
    tx_hash = pay(live, session, 10 * 10**6)
    wait_for(shop, session["id"], lambda body: body["status"] == "complete")
    after = shop.http.get(path).json()
    assert after["completed"] is True
    assert after["status"] == "complete"
    assert after["transactionHash"] == tx_hash
    assert_matches_operation(after, "SessionsController_checkoutSessionCompletedStatus")

"""Point 10: strict parsing. Each rule has a defined answer (docs/security.md):

- duplicate keys → 400; non-JSON content types on JSON routes → 415;
- a UTF-8 byte order mark is tolerated; UTF-16 and UTF-32 bodies → 400;
- NaN, Infinity and numbers beyond a double → 400;
- metadata integers beyond ±2^53 (what JavaScript reads exactly) → 400; metadata keys with control characters → 400.
"""

from __future__ import annotations

import json

import httpx
import pytest

from support import Merchant

CUSTOMER = {"email": "ada@example.com", "name": "Ada"}


def post_raw(shop: Merchant, body: bytes, content_type: str = "application/json") -> httpx.Response:
    return shop.http.post("/api/v1/customers", content=body, headers={"content-type": content_type})


def assert_nothing_stored(shop: Merchant) -> None:
    assert shop.http.get("/api/v1/customers").json()["count"] == 0


def test_duplicate_keys_are_refused(shop: Merchant) -> None:
    resp = post_raw(shop, b'{"email": "ada@example.com", "name": "Ada", "name": "Eve"}')
    assert resp.status_code == 400
    assert resp.json()["message"] == ["name: appears twice in the same object"]
    resp = post_raw(shop, b'{"email": "ada@example.com", "metadata": {"a": 1, "a": 2}}')
    assert resp.status_code == 400
    assert resp.json()["message"] == ["a: appears twice in the same object"]
    assert_nothing_stored(shop)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/json; charset=utf-16",
        "",
    ],
)
def test_non_json_content_types_on_json_routes_are_415(shop: Merchant, content_type: str) -> None:
    resp = post_raw(shop, json.dumps(CUSTOMER).encode(), content_type)
    assert resp.status_code == 415, resp.text
    assert resp.json() == {
        "message": "Content-Type must be application/json (UTF-8)",
        "statusCode": 415,
        "error": "Unsupported Media Type",
    }
    assert_nothing_stored(shop)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "application/merge-patch+json"],
)
def test_json_content_types_are_accepted(shop: Merchant, content_type: str) -> None:
    assert post_raw(shop, json.dumps(CUSTOMER).encode(), content_type).status_code == 200


def test_a_bodyless_post_needs_no_content_type(shop: Merchant) -> None:
    # POST …/expire and friends take no body: no Content-Type is required for an empty one.
    resp = shop.http.post("/api/v1/checkout/sessions/0190a1b2-0000-7000-8000-000000000000/expire")
    assert resp.status_code == 404


def test_a_utf8_byte_order_mark_is_tolerated(shop: Merchant) -> None:
    resp = post_raw(shop, b"\xef\xbb\xbf" + json.dumps(CUSTOMER).encode())
    assert resp.status_code == 200, resp.text
    assert resp.json()["name"] == "Ada"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_bodies_are_refused(shop: Merchant, encoding: str) -> None:
    resp = post_raw(shop, json.dumps(CUSTOMER).encode(encoding))
    assert resp.status_code == 400
    assert resp.json()["message"] == ["body: must be UTF-8 encoded JSON (UTF-16 and UTF-32 are not accepted)"]
    assert_nothing_stored(shop)


def test_invalid_utf8_is_refused(shop: Merchant) -> None:
    resp = post_raw(shop, b'{"email": "ada@example.com", "name": "\xff\xfe"}')
    assert resp.status_code == 400
    assert resp.json()["message"][0].startswith("body: is not valid UTF-8")


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e400"])
def test_non_finite_numbers_are_refused(shop: Merchant, number: bytes) -> None:
    resp = post_raw(shop, b'{"email": "ada@example.com", "metadata": {"n": ' + number + b"}}")
    assert resp.status_code == 400
    assert "is not a finite JSON number" in resp.json()["message"][0]


def test_a_lone_surrogate_is_refused(shop: Merchant) -> None:
    resp = post_raw(shop, b'{"email": "ada@example.com", "name": "Ada \\ud800"}')
    assert resp.status_code == 400
    assert resp.json()["message"] == ["name: must be valid Unicode text (it holds a lone surrogate)"]
    # A proper pair is an emoji, and welcome.
    resp = post_raw(shop, b'{"email": "ada@example.com", "name": "Ada \\ud83d\\ude00"}')
    assert resp.status_code == 200
    assert resp.json()["name"] == "Ada \U0001f600"


@pytest.mark.parametrize("value", [2**53, -(2**53), 0, 42])
def test_metadata_integers_within_2_pow_53_round_trip(shop: Merchant, value: int) -> None:
    resp = shop.http.post("/api/v1/customers", json=CUSTOMER | {"metadata": {"n": value}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["metadata"] == {"n": value}


@pytest.mark.parametrize("value", [2**53 + 1, -(2**53) - 1, 10**30])
def test_metadata_integers_beyond_2_pow_53_are_refused(shop: Merchant, value: int) -> None:
    resp = shop.http.post("/api/v1/customers", json=CUSTOMER | {"metadata": {"n": value}})
    assert resp.status_code == 400
    [message] = resp.json()["message"]
    assert message.startswith("metadata: value of 'n' must lie within ±9007199254740992")
    assert_nothing_stored(shop)


@pytest.mark.parametrize("key", ["a\x00", "\x1bkey", "tab\tkey", "line\nkey", "del\x7f"])
def test_metadata_keys_with_control_characters_are_refused(shop: Merchant, key: str) -> None:
    resp = shop.http.post("/api/v1/customers", json=CUSTOMER | {"metadata": {key: "v"}})
    assert resp.status_code == 400
    [message] = resp.json()["message"]
    assert message.startswith("metadata.")
    assert message.endswith("must not contain control characters (in the key)")
    assert_nothing_stored(shop)


def test_an_oversized_integer_literal_is_a_400_not_a_500(shop: Merchant) -> None:
    resp = post_raw(shop, b'{"email": "ada@example.com", "metadata": {"n": ' + b"9" * 5000 + b"}}")
    assert resp.status_code == 400
    assert resp.json()["message"][0].startswith("body: is not valid JSON")

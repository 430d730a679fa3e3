"""Every error status of the conventions, in Copperx's shape, and never a 500 for bad input."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import LiveServer, Merchant


def assert_error(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    body: dict[str, object] = resp.json()
    assert set(body) == {"message", "statusCode", "error"}
    assert body["statusCode"] == status
    assert isinstance(body["error"], str)
    assert body["error"]
    return body


def test_validation_errors_name_each_field(shop: Merchant) -> None:
    resp = shop.http.post(
        "/api/v1/customers",
        json={"email": "not-an-email", "phone": "call me", "visibility": 7, "address": {"line1": ["5"]}},
    )
    body = assert_error(resp, 400)
    messages = body["message"]
    assert isinstance(messages, list)
    fields = {m.split(":")[0] for m in messages}
    assert fields == {"email", "phone", "visibility", "address.line1"}


def test_missing_required_field(shop: Merchant) -> None:
    body = assert_error(shop.http.post("/api/v1/customers", json={"name": "No Email"}), 400)
    assert body["message"] == ["email: is required"]


def test_invalid_json_and_non_object_bodies(shop: Merchant) -> None:
    resp = shop.http.post("/api/v1/customers", content=b'{"email": ', headers={"content-type": "application/json"})
    body = assert_error(resp, 400)
    assert str(body["message"]).startswith("['body: is not valid JSON")
    for raw in (b"[1, 2]", b'"text"', b"null", b"42"):
        resp = shop.http.post("/api/v1/customers", content=raw, headers={"content-type": "application/json"})
        assert_error(resp, 400)


def test_unknown_route_and_id_are_404(shop: Merchant) -> None:
    assert_error(shop.http.get("/api/v1/nothing-here"), 404)
    assert_error(shop.http.get("/nowhere"), 404)
    assert_error(shop.http.get("/api/v1/customers/0190a1b2-0000-7000-8000-000000000000"), 404)
    assert_error(shop.http.get("/api/v1/customers/not-a-uuid"), 404)


def test_wrong_method_is_405(shop: Merchant) -> None:
    assert_error(shop.http.patch("/api/v1/customers"), 405)
    assert_error(shop.http.post("/api/v1/organization", json={}), 405)


def test_body_over_one_mebibyte_is_413(live: LiveServer, shop: Merchant) -> None:
    big = b'{"email": "a@example.com", "name": "' + b"x" * (1024 * 1024) + b'"}'
    resp = shop.http.post("/api/v1/customers", content=big, headers={"content-type": "application/json"})
    assert_error(resp, 413)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 64 * 1024):
            yield big[i : i + 64 * 1024]

    resp = shop.http.post("/api/v1/customers", content=chunks(), headers={"content-type": "application/json"})
    assert_error(resp, 413)
    # Nothing was written.
    assert shop.http.get("/api/v1/customers").json()["count"] == 0


def test_body_just_under_the_limit_is_accepted_for_parsing(shop: Merchant) -> None:
    body = b'{"email": "a@example.com", "name": "' + b"x" * (1024 * 1024 - 100) + b'"}'
    resp = shop.http.post("/api/v1/customers", content=body, headers={"content-type": "application/json"})
    # Parsed, then refused by the name length rule, not by the size limit.
    assert assert_error(resp, 400)["message"] == ["name: String should have at most 200 characters"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
customer_like = st.fixed_dictionaries(
    {},
    optional=dict.fromkeys(
        ("email", "name", "phone", "address", "shipping", "metadata", "taxIds", "visibility"), json_values
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=customer_like)
def test_arbitrary_bodies_never_cause_a_500(shop: Merchant, body: dict[str, object]) -> None:
    resp = shop.http.post("/api/v1/customers", json=body)
    assert resp.status_code in (200, 400), resp.text
    if resp.status_code == 400:
        assert_error(resp, 400)

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import select

from kassa.auth.keys import issue_key, revoke_key
from kassa.auth.models import ApiKey, Organization
from support import LiveServer, Merchant, merchant


def _error(resp: object) -> dict[str, object]:
    import httpx

    assert isinstance(resp, httpx.Response)
    body: dict[str, object] = resp.json()
    assert set(body) == {"message", "statusCode", "error"}
    assert body["statusCode"] == resp.status_code
    return body


def test_no_key_is_401(live: LiveServer) -> None:
    with live.client() as http:
        resp = http.get("/api/v1/customers")
    assert resp.status_code == 401
    assert "Authorization" in str(_error(resp)["message"])


@pytest.mark.parametrize(
    "header",
    [
        "Basic abc",
        "Bearer",
        "Bearer x y",
        "kassa_sk_test_x",
        "Bearer kassa_sk_test_doesnotexist",
        "Bearer sk_live_x",
    ],
)
def test_malformed_or_unknown_key_is_401(live: LiveServer, header: str) -> None:
    with live.client(Authorization=header) as http:
        resp = http.get("/api/v1/organization")
    assert resp.status_code == 401
    assert _error(resp)["error"] == "Unauthorized"


def test_revoked_key_is_401(live: LiveServer, shop: Merchant) -> None:
    assert shop.http.get("/api/v1/organization").status_code == 200
    with live.database.write_sessions() as db:
        org = db.get(Organization, shop.organization_id)
        assert org is not None
        second = issue_key(db, live.clock, org, "test", "second")
        db.commit()
        key_id = second.api_key.id
    with live.client(second.secret) as http:
        assert http.get("/api/v1/organization").status_code == 200
        with live.database.write_sessions() as db:
            revoke_key(db, live.clock, key_id)
            db.commit()
        resp = http.get("/api/v1/organization")
    assert resp.status_code == 401
    assert "revoked" in str(_error(resp)["message"])
    # The other key of the organization keeps working.
    assert shop.http.get("/api/v1/organization").status_code == 200


def test_organization_endpoint_returns_the_callers_organization(shop: Merchant, other_shop: Merchant) -> None:
    mine = shop.http.get("/api/v1/organization").json()
    theirs = other_shop.http.get("/api/v1/organization").json()
    assert mine["id"] == str(shop.organization_id)
    assert theirs["id"] == str(other_shop.organization_id)
    assert mine["name"] == "Test Shop"
    assert mine["livemode"] is False


def test_other_organizations_objects_are_invisible(shop: Merchant, other_shop: Merchant) -> None:
    created = shop.http.post("/api/v1/customers", json={"email": "mine@example.com"}).json()
    cid = created["id"]
    for method, body in [("GET", None), ("PUT", {"email": "x@example.com"}), ("DELETE", None)]:
        resp = other_shop.http.request(method, f"/api/v1/customers/{cid}", json=body)
        assert resp.status_code == 404, method
        _error(resp)
    listed = other_shop.http.get("/api/v1/customers", params={"ids": cid}).json()
    assert listed["count"] == 0
    # Untouched for its owner.
    assert shop.http.get(f"/api/v1/customers/{cid}").json()["email"] == "mine@example.com"


def test_other_modes_objects_are_invisible(live: LiveServer, shop: Merchant) -> None:
    created = shop.http.post("/api/v1/customers", json={"email": "test-mode@example.com"}).json()
    with live.database.write_sessions() as db:
        org = db.get(Organization, shop.organization_id)
        assert org is not None
        live_key = issue_key(db, live.clock, org, "live").secret
        db.commit()
    assert live_key.startswith("kassa_sk_live_")
    with live.client(live_key) as http:
        assert http.get(f"/api/v1/customers/{created['id']}").status_code == 404
        assert http.get("/api/v1/customers").json()["count"] == 0
        assert http.get("/api/v1/organization").json()["livemode"] is True


def test_keys_name_their_mode_carry_256_random_bits_and_are_stored_as_a_digest(live: LiveServer) -> None:
    with merchant(live, mode="live") as live_shop, merchant(live) as test_shop, merchant(live) as other:
        assert re.fullmatch(r"kassa_sk_live_[A-Za-z0-9_-]{43}", live_shop.api_key)  # 32 random bytes, base64url
        assert re.fullmatch(r"kassa_sk_test_[A-Za-z0-9_-]{43}", test_shop.api_key)
        assert len({live_shop.api_key, test_shop.api_key, other.api_key}) == 3
        with live.database.read_sessions() as db:
            [key] = db.scalars(select(ApiKey).where(ApiKey.organization_id == test_shop.organization_id))
        assert key.key_hash == hashlib.sha256(test_shop.api_key.encode()).hexdigest()
        assert key.prefix == test_shop.api_key[: len("kassa_sk_test_") + 4]  # shown in listings; not the secret
        assert test_shop.http.get("/api/v1/organization").json()["id"] == str(test_shop.organization_id)

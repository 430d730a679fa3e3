"""GET /api/v1/auth/me: the calling API key and its organization, in Copperx's user shape (issue #12)."""

from __future__ import annotations

from sqlalchemy import select

from contract import assert_matches_operation
from kassa.auth.keys import hash_key, issue_key
from kassa.auth.models import ApiKey, Organization
from support import LiveServer, Merchant, merchant


def test_me_is_the_calling_key_of_the_callers_organization(live: LiveServer, shop: Merchant) -> None:
    resp = shop.http.get("/api/v1/auth/me")
    assert resp.status_code == 200, resp.text
    me = resp.json()
    assert_matches_operation(me, "AuthController_getCurrentUser")
    with live.database.read_sessions() as db:
        key = db.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(shop.api_key))).one()
    assert me["id"] == str(key.id)
    assert me["apiKey"] == {"id": str(key.id), "name": "default", "prefix": key.prefix, "mode": "test"}
    assert me["firstName"] == "default"
    assert (me["lastName"], me["email"], me["role"], me["accountType"]) == ("", "", "owner", "email")
    assert me["status"] == "active"
    assert me["livemode"] is False
    org = me["organization"]
    assert org["id"] == org["ownerId"] == str(shop.organization_id)
    assert (org["name"], org["type"], org["status"]) == ("Test Shop", "merchant", "active")


def test_each_key_sees_itself_and_only_its_own_organization(live: LiveServer, shop: Merchant) -> None:
    with live.database.write_sessions() as db:
        org = db.get(Organization, shop.organization_id)
        assert org is not None
        org.email = "owner@shop.example"
        second = issue_key(db, live.clock, org, "live", "storefront")
        db.commit()
    with live.client(second.secret) as http, merchant(live, name="Other Shop") as other:
        me = http.get("/api/v1/auth/me").json()
        theirs = other.http.get("/api/v1/auth/me").json()
    assert_matches_operation(me, "AuthController_getCurrentUser")
    assert me["id"] == str(second.api_key.id)
    assert (me["firstName"], me["email"], me["livemode"]) == ("storefront", "owner@shop.example", True)
    assert me["apiKey"]["mode"] == "live"
    assert me["organization"]["id"] == str(shop.organization_id)
    assert theirs["organization"]["id"] != str(shop.organization_id)
    assert theirs["organization"]["name"] == "Other Shop"
    assert theirs["id"] not in {me["id"], shop.http.get("/api/v1/auth/me").json()["id"]}


def test_me_needs_a_key(live: LiveServer) -> None:
    with live.client() as http:
        resp = http.get("/api/v1/auth/me")
    assert resp.status_code == 401
    assert resp.json()["error"] == "Unauthorized"

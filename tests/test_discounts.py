from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy import select

from contract import assert_matches_operation
from kassa.auth.keys import Principal
from kassa.discounts.models import Coupon, PromotionCode
from kassa.discounts.redemption import (
    AppliedDiscount,
    PromotionCodeRejected,
    redeem_reserved_promotion_code,
    release_promotion_code,
    reserve_promotion_code,
    validate_promotion_code,
)
from kassa.discounts.schemas import PercentOut
from support import LiveServer, Merchant

PAST = "2001-01-01T00:00:00Z"
FAR = "2099-01-01T00:00:00Z"
FAR_OUT = "2099-01-01T00:00:00.000Z"  # FAR as Kassa writes it
ONE_USDC = 100_000_000


def body(code: str = "SAVE10", **fields: Any) -> dict[str, Any]:
    """A valid create body; a field given as None is left out."""
    base: dict[str, Any] = {"name": "Ten off", "percentOff": 10, "promotionCodeData": {"data": [{"code": code}]}}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def make(shop: Merchant, code: str = "SAVE10", **fields: Any) -> dict[str, Any]:
    resp = shop.http.post("/api/v1/coupons", json=body(code, **fields))
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


def get(shop: Merchant, coupon_id: str) -> dict[str, Any]:
    resp = shop.http.get(f"/api/v1/coupons/{coupon_id}")
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


def messages(resp: Any) -> list[str]:
    assert resp.status_code == 400, resp.text
    found = resp.json()["message"]
    return found if isinstance(found, list) else [found]


def caller(shop: Merchant) -> Principal:
    return Principal(organization_id=shop.organization_id, mode=shop.mode, api_key_id=uuid.uuid4())


def iso(moment: datetime) -> str:
    return moment.isoformat()


@contextmanager
def later(live: LiveServer, delta: timedelta) -> Iterator[None]:
    live.clock.advance(delta)
    try:
        yield
    finally:
        live.clock.advance(-delta)


def validate(live: LiveServer, shop: Merchant, code: str, currency: str = "usdc") -> AppliedDiscount:
    with live.database.read_sessions() as db:
        return validate_promotion_code(db, live.clock, caller(shop), code, amount=5 * ONE_USDC, currency=currency)


def rejection(live: LiveServer, shop: Merchant, code: str, currency: str = "usdc") -> str:
    with pytest.raises(PromotionCodeRejected) as info:
        validate(live, shop, code, currency)
    found = info.value.message
    assert (found if isinstance(found, str) else found[0]).startswith("promotionCode: ")
    return info.value.reason


def reserve(live: LiveServer, shop: Merchant, code: str, *, redeem: bool = False, replacing: str | None = None) -> bool:
    """One reservation in its own transaction, as applying a code to a session makes one (with `redeem`, also
    its redemption, as the session's completion makes it); False when refused for the limit."""
    with live.database.write_sessions() as db:
        try:
            applied = reserve_promotion_code(
                db,
                live.clock,
                caller(shop),
                code,
                amount=5 * ONE_USDC,
                currency="usdc",
                replacing=uuid.UUID(replacing) if replacing else None,
            )
        except PromotionCodeRejected as exc:
            db.rollback()
            if exc.reason != "limit_reached":
                raise
            return False
        if redeem:
            redeem_reserved_promotion_code(db, caller(shop), applied.promotion_code_id)
        db.commit()
        return True


def redeem(live: LiveServer, shop: Merchant, code: str) -> bool:
    """A session that takes the code and completes, in one transaction; False when refused for the limit."""
    return reserve(live, shop, code, redeem=True)


def release(live: LiveServer, shop: Merchant, code_id: str) -> None:
    with live.database.write_sessions() as db:
        release_promotion_code(db, caller(shop), uuid.UUID(code_id))
        db.commit()


def counters(live: LiveServer, coupon: dict[str, Any]) -> tuple[int, int, int, int]:
    """(coupon redeemed, coupon reserved, code redeemed, code reserved), as stored."""
    with live.database.read_sessions() as db:
        row = db.get(Coupon, uuid.UUID(coupon["id"]))
        code = db.get(PromotionCode, uuid.UUID(coupon["promotionCodes"][0]["id"]))
        assert row is not None
        assert code is not None
        return row.times_redeemed, row.times_reserved, code.times_redeemed, code.times_reserved


def test_create_with_every_field(shop: Merchant) -> None:
    sent = body(
        "Spring-25",
        name="Spring sale",
        percentOff=12.5,
        maxRedemptions=100,
        redeemBy=FAR,
        metadata={"campaign": "spring", "wave": 2},
        promotionCodeData={
            "data": [{"code": "Spring-25", "expiredAt": FAR, "maxRedemptions": 5, "metadata": {"a": 1}}]
        },
    )
    resp = shop.http.post("/api/v1/coupons", json=sent)
    assert resp.status_code == 200, resp.text
    assert '"percentOff":12.5,' in resp.text  # a JSON number with the client's digits
    got = resp.json()
    assert_matches_operation(got, "CouponController_create")
    assert (got["object"], got["livemode"], got["organizationId"]) == ("coupon", False, str(shop.organization_id))
    assert (got["name"], got["percentOff"], got["amountOff"], got["currency"]) == ("Spring sale", 12.5, None, None)
    assert (got["maxRedemptions"], got["redeemBy"], got["metadata"]) == (
        100,
        FAR_OUT,
        sent["metadata"],
    )
    assert (got["isEnable"], got["isArchived"], got["archivedAt"]) == (True, False, None)
    assert (got["status"], got["timesRedeemed"]) == ("active", 0)
    [code] = got["promotionCodes"]
    assert (code["code"], code["couponId"], code["isActive"], code["maxRedemptions"]) == (
        "Spring-25",
        got["id"],
        True,
        5,
    )
    assert (code["expiredAt"], code["metadata"], code["timesRedeemed"]) == (FAR_OUT, {"a": 1}, 0)


def test_an_amount_off_coupon_keeps_its_exact_amount_and_a_lowercase_currency(shop: Merchant) -> None:
    got = make(shop, percentOff=None, amountOff=str(5 * ONE_USDC), currency="USDC")
    assert (got["amountOff"], got["currency"], got["percentOff"]) == (str(5 * ONE_USDC), "usdc", None)
    assert make(shop, "NUM", percentOff=None, amountOff=ONE_USDC, currency="eth")["amountOff"] == str(ONE_USDC)


@pytest.mark.parametrize(
    ("sent", "shown", "stored"),
    [(12.5, "12.5", 125000), ("12.5", "12.5", 125000), (33.3333, "33.3333", 333333), ("0.0001", "0.0001", 1),
     (100, "100", 1000000), (7.25, "7.25", 72500), ("50.00", "50", 500000), (1e1, "10", 100000)],
)  # fmt: skip
def test_percent_off_is_exact(live: LiveServer, shop: Merchant, sent: Any, shown: str, stored: int) -> None:
    resp = shop.http.post("/api/v1/coupons", json=body(percentOff=sent))
    assert f'"percentOff":{shown},' in resp.text, resp.text
    with live.database.read_sessions() as db:
        assert db.scalar(select(Coupon.percent_off_e4).where(Coupon.id == uuid.UUID(resp.json()["id"]))) == stored


def test_every_percentage_prints_its_own_digits() -> None:
    values = list(range(1, 1_000_001))
    printed = TypeAdapter(list[PercentOut]).dump_json(values).decode()[1:-1].split(",")
    expected = [format(Decimal(v).scaleb(-4).normalize(), "f") for v in values]
    assert printed == expected


CODE = "promotionCodeData.data.0"


@pytest.mark.parametrize(
    ("sent", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"percentOff": None}, "percentOff"),
        ({"amountOff": "100", "currency": "usdc"}, "percentOff"),
        ({"percentOff": 0}, "percentOff"),
        ({"percentOff": -5}, "percentOff"),
        ({"percentOff": 100.0001}, "percentOff"),
        ({"percentOff": 12.34567}, "percentOff"),
        ({"percentOff": "12.5%"}, "percentOff"),
        ({"percentOff": "NaN"}, "percentOff"),
        ({"percentOff": True}, "percentOff"),
        ({"percentOff": None, "amountOff": "0", "currency": "usdc"}, "amountOff"),
        ({"percentOff": None, "amountOff": 1.5, "currency": "usdc"}, "amountOff"),
        ({"percentOff": None, "amountOff": "100"}, "currency"),
        ({"percentOff": None, "amountOff": "100", "currency": "doge"}, "currency"),
        ({"currency": "usdc"}, "currency"),
        ({"maxRedemptions": 0}, "maxRedemptions"),
        ({"maxRedemptions": 1.5}, "maxRedemptions"),
        ({"redeemBy": PAST}, "redeemBy"),
        ({"redeemBy": "soon"}, "redeemBy"),
        ({"metadata": {"k": [1]}}, "metadata"),
        ({"isEnable": "maybe"}, "isEnable"),
        ({"promotionCodeData": None}, "promotionCodeData"),
        ({"promotionCodeData": {"data": []}}, "promotionCodeData.data"),
        ({"promotionCodeData": {"data": [{"code": "AA"}, {"code": "BB"}]}}, "promotionCodeData.data"),
        ({"promotionCodeData": {"data": [{"code": "A"}]}}, f"{CODE}.code"),
        ({"promotionCodeData": {"data": [{"code": "A" * 21}]}}, f"{CODE}.code"),
        ({"promotionCodeData": {"data": [{"code": "TEN OFF"}]}}, f"{CODE}.code"),
        ({"promotionCodeData": {"data": [{"code": "TEN%"}]}}, f"{CODE}.code"),
        ({"promotionCodeData": {"data": [{}]}}, f"{CODE}.code"),
        ({"promotionCodeData": {"data": [{"code": "AA", "expiredAt": PAST}]}}, f"{CODE}.expiredAt"),
        ({"redeemBy": "2098-01-01T00:00:00Z", "promotionCodeData": {"data": [{"code": "AA", "expiredAt": FAR}]}},
         f"{CODE}.expiredAt"),
        ({"promotionCodeData": {"data": [{"code": "AA", "maxRedemptions": 0}]}}, f"{CODE}.maxRedemptions"),
        ({"maxRedemptions": 2, "promotionCodeData": {"data": [{"code": "AA", "maxRedemptions": 3}]}},
         f"{CODE}.maxRedemptions"),
        ({"promotionCodeData": {"data": [{"code": "AA", "metadata": "x"}]}}, f"{CODE}.metadata"),
    ],
)  # fmt: skip
def test_validation_rules(shop: Merchant, sent: dict[str, Any], field: str) -> None:
    found = messages(shop.http.post("/api/v1/coupons", json=body(**sent)))
    assert any(m.startswith(f"{field}:") for m in found), found
    assert shop.http.get("/api/v1/coupons").json()["count"] == 0


def test_neither_or_both_discounts_name_both_fields(shop: Merchant) -> None:
    for sent in ({"percentOff": None}, {"amountOff": "5", "currency": "usdc"}):
        [message] = messages(shop.http.post("/api/v1/coupons", json=body(**sent)))
        assert "percentOff" in message
        assert "amountOff" in message


def test_codes_are_unique_among_active_codes_regardless_of_case(
    live: LiveServer, shop: Merchant, other_shop: Merchant
) -> None:
    first = make(shop, "Summer")
    [message] = messages(shop.http.post("/api/v1/coupons", json=body("sUMMER")))
    assert message.startswith(f"{CODE}.code: ")
    assert "already in use" in message
    assert make(other_shop, "SUMMER")["promotionCodes"][0]["code"] == "SUMMER"  # another organization
    shop.http.post(f"/api/v1/coupons/{first['id']}/disable")
    assert messages(shop.http.post("/api/v1/coupons", json=body("summer")))  # disabled still holds its code
    shop.http.post(f"/api/v1/coupons/{first['id']}/archive")
    second = make(shop, "summer", percentOff=20)
    assert validate(live, shop, "SUMMER").coupon_id == uuid.UUID(second["id"])
    assert get(shop, first["id"])["promotionCodes"][0]["isActive"] is False


def test_concurrent_creates_of_one_code_have_one_winner(shop: Merchant) -> None:
    variants = ["RACE", "race", "Race", "rAce", "raCe", "racE", "RAce", "raCE"]
    with ThreadPoolExecutor(max_workers=len(variants)) as pool:
        statuses = list(pool.map(lambda c: shop.post_alone("/api/v1/coupons", body(c)).status_code, variants))
    assert sorted(statuses) == [200] + [400] * (len(variants) - 1)
    assert shop.http.get("/api/v1/coupons").json()["count"] == 1


def test_retrieve_and_update(shop: Merchant) -> None:
    created = make(shop, maxRedemptions=5, metadata={"a": "b"})
    cid = created["id"]
    got = get(shop, cid)
    assert got == created
    assert_matches_operation(got, "CouponController_get")
    resp = shop.http.put(
        f"/api/v1/coupons/{cid}", json={"name": "Renamed", "maxRedemptions": 7, "redeemBy": FAR, "isEnable": False}
    )
    assert resp.status_code == 200, resp.text
    updated = resp.json()
    assert_matches_operation(updated, "CouponController_update")
    assert (updated["name"], updated["maxRedemptions"], updated["redeemBy"]) == (
        "Renamed",
        7,
        FAR_OUT,
    )
    assert (updated["isEnable"], updated["status"], updated["metadata"]) == (False, "disabled", {"a": "b"})
    assert updated["percentOff"] == 10  # fixed at creation
    assert updated["updatedAt"] >= created["updatedAt"]
    cleared = shop.http.put(f"/api/v1/coupons/{cid}", json={"name": "R", "redeemBy": None, "metadata": None}).json()
    assert (cleared["redeemBy"], cleared["metadata"], cleared["maxRedemptions"]) == (None, None, 7)


@pytest.mark.parametrize(
    ("sent", "field"),
    [
        ({"percentOff": 20}, "percentOff"),
        ({"amountOff": "5"}, "amountOff"),
        ({"currency": "usdc"}, "currency"),
        ({"name": None}, "name"),
        ({"maxRedemptions": 0}, "maxRedemptions"),
        ({"redeemBy": PAST}, "redeemBy"),
    ],
)
def test_update_rules(shop: Merchant, sent: dict[str, Any], field: str) -> None:
    cid = make(shop)["id"]
    update = {k: v for k, v in ({"name": "Ten off"} | sent).items() if v is not None}
    found = messages(shop.http.put(f"/api/v1/coupons/{cid}", json=update))
    assert any(m.startswith(f"{field}:") for m in found), found


def test_max_redemptions_cannot_go_below_times_redeemed(live: LiveServer, shop: Merchant) -> None:
    created = make(shop)
    assert redeem(live, shop, "SAVE10")
    assert redeem(live, shop, "SAVE10")
    found = messages(shop.http.put(f"/api/v1/coupons/{created['id']}", json={"name": "x", "maxRedemptions": 1}))
    assert found == [
        "maxRedemptions: must not be below timesRedeemed (2) plus the redemptions reserved by open checkout "
        "sessions (0)"
    ]
    at_limit = shop.http.put(f"/api/v1/coupons/{created['id']}", json={"name": "x", "maxRedemptions": 2}).json()
    assert (at_limit["timesRedeemed"], at_limit["status"]) == (2, "limit_reached")


def test_max_redemptions_cannot_go_below_what_open_sessions_reserved(live: LiveServer, shop: Merchant) -> None:
    created = make(shop)
    assert redeem(live, shop, "SAVE10")
    assert reserve(live, shop, "SAVE10")
    found = messages(shop.http.put(f"/api/v1/coupons/{created['id']}", json={"name": "x", "maxRedemptions": 1}))
    assert found == [
        "maxRedemptions: must not be below timesRedeemed (1) plus the redemptions reserved by open checkout "
        "sessions (1)"
    ]
    full = shop.http.put(f"/api/v1/coupons/{created['id']}", json={"name": "x", "maxRedemptions": 2}).json()
    assert (full["timesRedeemed"], full["status"]) == (1, "active")  # the status counts redemptions only
    assert not reserve(live, shop, "SAVE10")  # but the reserved one takes the last room
    assert rejection(live, shop, "SAVE10") == "limit_reached"


def test_enable_disable_archive(shop: Merchant) -> None:
    cid = make(shop)["id"]
    disabled = shop.http.post(f"/api/v1/coupons/{cid}/disable").json()
    assert_matches_operation(disabled, "CouponController_disable")
    assert (disabled["isEnable"], disabled["status"], disabled["promotionCodes"][0]["isActive"]) == (
        False,
        "disabled",
        False,
    )
    enabled = shop.http.post(f"/api/v1/coupons/{cid}/enable").json()
    assert_matches_operation(enabled, "CouponController_enable")
    assert (enabled["isEnable"], enabled["status"], enabled["promotionCodes"][0]["isActive"]) == (True, "active", True)
    archived = shop.http.post(f"/api/v1/coupons/{cid}/archive").json()
    assert_matches_operation(archived, "CouponController_archive")
    assert (archived["isArchived"], archived["isEnable"], archived["status"]) == (True, False, "disabled")
    assert archived["archivedAt"] is not None
    assert messages(shop.http.post(f"/api/v1/coupons/{cid}/enable"))[0].startswith("isEnable:")
    assert messages(shop.http.put(f"/api/v1/coupons/{cid}", json={"name": "x", "isEnable": True}))
    again = shop.http.post(f"/api/v1/coupons/{cid}/archive").json()
    assert again["archivedAt"] == archived["archivedAt"]
    assert shop.http.post(f"/api/v1/coupons/{cid}/disable").status_code == 200


def test_status_follows_the_clock_and_the_counters(live: LiveServer, shop: Merchant) -> None:
    soon = make(shop, "SOON", redeemBy=iso(live.clock.now() + timedelta(hours=1)))
    capped = make(shop, "CAPPED", maxRedemptions=1)
    assert (soon["status"], capped["status"]) == ("active", "active")
    assert redeem(live, shop, "CAPPED")
    assert get(shop, capped["id"])["status"] == "limit_reached"
    with later(live, timedelta(hours=2)):
        assert get(shop, soon["id"])["status"] == "expired"
        expired = shop.http.get("/api/v1/coupons", params={"status": "expired"}).json()
        assert [c["id"] for c in expired["data"]] == [soon["id"]]
    assert get(shop, soon["id"])["status"] == "active"


def test_list_search_and_filters(shop: Merchant) -> None:
    a = make(shop, "WINTER_10", name="Winter deal")
    b = make(shop, "SPRING", name="Spring 100% off")
    c = make(shop, "AUTUMN", name="Autumn")
    shop.http.post(f"/api/v1/coupons/{c['id']}/archive")
    page = shop.http.get("/api/v1/coupons").json()
    assert_matches_operation(page, "CouponController_search")
    assert [x["id"] for x in page["data"]] == [c["id"], b["id"], a["id"]]

    def ids(**params: Any) -> list[str]:
        return [x["id"] for x in shop.http.get("/api/v1/coupons", params=params).json()["data"]]

    assert ids(searchText="winter") == [a["id"]]  # name, any case
    assert ids(searchText="ter_1") == [a["id"]]  # code; "_" is literal
    assert ids(searchText="100%") == [b["id"]]  # "%" is literal
    assert ids(searchText="e_") == []  # would match "er" if "_" were a wildcard
    assert ids(isArchived="true") == [c["id"]]
    assert ids(isArchived="false", isEnable="true") == [b["id"], a["id"]]
    assert ids(status="disabled") == [c["id"]]
    assert ids(status="active", limit=1) == [b["id"]]
    echo = shop.http.get("/api/v1/coupons", params={"searchText": "w", "status": "active"}).json()["query"]
    assert (echo["searchText"], echo["status"]) == ("w", "active")
    assert messages(shop.http.get("/api/v1/coupons", params={"status": "gone"}))[0].startswith("status:")


def test_other_organizations_coupons_are_not_found(live: LiveServer, shop: Merchant, other_shop: Merchant) -> None:
    cid = make(shop)["id"]
    assert other_shop.http.get(f"/api/v1/coupons/{cid}").status_code == 404
    assert other_shop.http.put(f"/api/v1/coupons/{cid}", json={"name": "x"}).status_code == 404
    for action in ("enable", "disable", "archive"):
        assert other_shop.http.post(f"/api/v1/coupons/{cid}/{action}").status_code == 404
    assert other_shop.http.get("/api/v1/coupons").json()["count"] == 0
    assert shop.http.get("/api/v1/coupons/not-a-uuid").status_code == 404
    assert rejection(live, other_shop, "SAVE10") == "unknown"
    assert get(shop, cid)["isEnable"] is True


def test_idempotency_key_on_create(shop: Merchant) -> None:
    key = str(uuid.uuid4())
    first = shop.http.post("/api/v1/coupons", json=body(), headers={"Idempotency-Key": key})
    second = shop.http.post("/api/v1/coupons", json=body(), headers={"Idempotency-Key": key})
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == second.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert shop.http.get("/api/v1/coupons").json()["count"] == 1


def test_a_code_is_found_whatever_its_case_and_spacing_and_carries_its_coupons_terms(
    live: LiveServer, shop: Merchant
) -> None:
    pct = make(shop, "PCT", percentOff="12.5")
    applied = validate(live, shop, " pct ", currency="USDT")
    assert applied == AppliedDiscount(
        coupon_id=uuid.UUID(pct["id"]),
        promotion_code_id=uuid.UUID(pct["promotionCodes"][0]["id"]),
        code="PCT",
        percent_off_e4=125000,
        amount_off=None,
        currency=None,
        name="Ten off",
    )
    make(shop, "FIVE", percentOff=None, amountOff=str(5 * ONE_USDC), currency="usdc")
    assert validate(live, shop, "five", currency="USDC").amount_off == 5 * ONE_USDC


def test_a_refused_code_says_why_unknown_disabled_other_currency_used_up_or_archived(
    live: LiveServer, shop: Merchant
) -> None:
    assert rejection(live, shop, "NOPE") == "unknown"
    off = make(shop, "OFF")
    shop.http.post(f"/api/v1/coupons/{off['id']}/disable")
    assert rejection(live, shop, "off") == "disabled"
    make(shop, "FIVE", percentOff=None, amountOff="500", currency="usdc")
    assert rejection(live, shop, "FIVE", currency="eth") == "currency_mismatch"
    make(shop, "ONCE", promotionCodeData={"data": [{"code": "ONCE", "maxRedemptions": 1}]})
    assert redeem(live, shop, "ONCE")
    assert rejection(live, shop, "ONCE") == "limit_reached"
    assert not redeem(live, shop, "ONCE")
    archived = make(shop, "GONE")
    shop.http.post(f"/api/v1/coupons/{archived['id']}/archive")
    assert rejection(live, shop, "GONE") == "unknown"


def test_expiry_of_coupon_and_of_code(live: LiveServer, shop: Merchant) -> None:
    hour = iso(live.clock.now() + timedelta(hours=1))
    make(shop, "COUPONEXP", redeemBy=hour)
    by_code = make(shop, "CODEEXP", promotionCodeData={"data": [{"code": "CODEEXP", "expiredAt": hour}]})
    with later(live, timedelta(hours=2)):
        assert rejection(live, shop, "couponexp") == "expired"
        assert rejection(live, shop, "codeexp") == "expired"
        assert get(shop, by_code["id"])["status"] == "active"  # the coupon itself has not expired
        with pytest.raises(PromotionCodeRejected) as info:
            reserve(live, shop, "COUPONEXP")
        assert info.value.reason == "expired"
    assert validate(live, shop, "CODEEXP").code == "CODEEXP"


def test_reserve_rechecks_state_and_counts_nothing_when_refused(live: LiveServer, shop: Merchant) -> None:
    coupon = make(shop, maxRedemptions=2, promotionCodeData={"data": [{"code": "SAVE10", "maxRedemptions": 2}]})
    shop.http.post(f"/api/v1/coupons/{coupon['id']}/disable")
    with pytest.raises(PromotionCodeRejected) as info:
        reserve(live, shop, "SAVE10")
    assert info.value.reason == "disabled"
    assert counters(live, coupon) == (0, 0, 0, 0)
    shop.http.post(f"/api/v1/coupons/{coupon['id']}/enable")
    assert redeem(live, shop, "SAVE10")
    assert get(shop, coupon["id"])["timesRedeemed"] == 1
    with pytest.raises(PromotionCodeRejected) as missing:
        reserve(live, shop, "NOSUCH")
    assert missing.value.reason == "unknown"


def test_a_reservation_holds_room_until_released_or_redeemed(live: LiveServer, shop: Merchant) -> None:
    coupon = make(shop, "ONE", promotionCodeData={"data": [{"code": "ONE", "maxRedemptions": 1}]})
    code_id = coupon["promotionCodes"][0]["id"]
    assert reserve(live, shop, "one")
    assert counters(live, coupon) == (0, 1, 0, 1)
    assert rejection(live, shop, "ONE") == "limit_reached"  # nothing redeemed yet, but no room either
    assert not reserve(live, shop, "ONE")
    release(live, shop, code_id)
    assert counters(live, coupon) == (0, 0, 0, 0)
    assert reserve(live, shop, "ONE", redeem=True)
    assert counters(live, coupon) == (1, 0, 1, 0)
    got = get(shop, coupon["id"])
    assert (got["timesRedeemed"], got["promotionCodes"][0]["timesRedeemed"]) == (1, 1)


def test_a_reservation_is_redeemed_whatever_happened_to_the_coupon(live: LiveServer, shop: Merchant) -> None:
    """The buyer paid the discounted amount: completion counts it, disabled or not."""
    coupon = make(shop, "LATE", maxRedemptions=1)
    with live.database.write_sessions() as db:
        applied = reserve_promotion_code(db, live.clock, caller(shop), "LATE", amount=1, currency="usdc")
        db.commit()
    shop.http.post(f"/api/v1/coupons/{coupon['id']}/disable")
    with live.database.write_sessions() as db:
        redeem_reserved_promotion_code(db, caller(shop), applied.promotion_code_id)
        db.commit()
    assert counters(live, coupon) == (1, 0, 1, 0)


def test_replacing_a_code_moves_the_reservation(live: LiveServer, shop: Merchant) -> None:
    first = make(shop, "FIRST", maxRedemptions=1)
    second = make(shop, "SECOND", maxRedemptions=1)
    first_id = first["promotionCodes"][0]["id"]
    assert reserve(live, shop, "FIRST")
    assert reserve(live, shop, "FIRST", replacing=first_id)  # the same code again: its own reservation stands
    assert counters(live, first) == (0, 1, 0, 1)
    assert reserve(live, shop, "SECOND", replacing=first_id)
    assert (counters(live, first), counters(live, second)) == ((0, 0, 0, 0), (0, 1, 0, 1))
    assert not reserve(live, shop, "SECOND", replacing=first_id)  # refused: the release is undone with it
    assert counters(live, first) == (0, 0, 0, 0)
    assert reserve(live, shop, "FIRST")


@pytest.mark.parametrize("binding", ["code", "coupon"])
def test_fifty_parallel_redemptions_of_ten_succeed_exactly_ten_times(
    live: LiveServer, shop: Merchant, binding: str
) -> None:
    if binding == "code":
        coupon = make(shop, promotionCodeData={"data": [{"code": "TEN", "maxRedemptions": 10}]})
    else:  # the coupon's limit binds; the code has none (or a looser one) of its own
        coupon = make(shop, maxRedemptions=10, promotionCodeData={"data": [{"code": "TEN"}]})
    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(lambda _: redeem(live, shop, "TEN"), range(50)))
    assert outcomes.count(True) == 10
    got = get(shop, coupon["id"])
    assert got["timesRedeemed"] == 10
    assert got["promotionCodes"][0]["timesRedeemed"] == 10
    assert got["status"] == ("limit_reached" if binding == "coupon" else "active")
    assert rejection(live, shop, "ten") == "limit_reached"


@pytest.mark.parametrize(("coupon_max", "code_max"), [(5, 1), (1, 5)])
def test_a_refused_redemption_counts_on_neither_side(
    live: LiveServer, shop: Merchant, coupon_max: int, code_max: int
) -> None:
    """Whichever limit refuses, the other counter is not moved either (both UPDATEs share one savepoint)."""
    coupon = make(shop, maxRedemptions=5, promotionCodeData={"data": [{"code": "BOTH", "maxRedemptions": code_max}]})
    shop.http.put(f"/api/v1/coupons/{coupon['id']}", json={"name": "x", "maxRedemptions": coupon_max})
    assert [redeem(live, shop, "BOTH") for _ in range(3)] == [True, False, False]
    got = get(shop, coupon["id"])
    assert (got["timesRedeemed"], got["promotionCodes"][0]["timesRedeemed"]) == (1, 1)


def test_archiving_during_redemptions(live: LiveServer, shop: Merchant) -> None:
    """Archive and redemptions lock the same rows in the same order: no deadlock, and every count is kept."""
    coupon = make(shop, "BUSY")

    def attempt(i: int) -> str:
        if i == 10:
            return str(shop.http.post(f"/api/v1/coupons/{coupon['id']}/archive").status_code)
        try:
            return "counted" if redeem(live, shop, "BUSY") else "limit"
        except PromotionCodeRejected as exc:
            return exc.reason

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    assert outcomes.count("200") == 1
    # Looked up after the archive: no active code by that name; between lookup and UPDATE: disabled.
    assert set(outcomes) <= {"200", "counted", "disabled", "unknown"}
    got = get(shop, coupon["id"])
    assert got["timesRedeemed"] == got["promotionCodes"][0]["timesRedeemed"] == outcomes.count("counted")

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import update

from kassa.api.models import IdempotencyRecord
from support import LiveServer, Merchant


def post(shop: Merchant, key: str, body: dict[str, object]) -> tuple[int, dict[str, object], bool]:
    resp = shop.http.post("/api/v1/customers", json=body, headers={"Idempotency-Key": key})
    return resp.status_code, resp.json(), resp.headers.get("idempotent-replayed") == "true"


def test_replay_returns_the_first_response(shop: Merchant) -> None:
    key = str(uuid.uuid4())
    status1, body1, replayed1 = post(shop, key, {"email": "once@example.com"})
    status2, body2, replayed2 = post(shop, key, {"email": "once@example.com"})
    assert (status1, status2) == (200, 200)
    assert body1 == body2
    assert (replayed1, replayed2) == (False, True)
    assert shop.http.get("/api/v1/customers").json()["count"] == 1


def test_same_key_other_body_is_400(shop: Merchant) -> None:
    key = str(uuid.uuid4())
    post(shop, key, {"email": "a@example.com"})
    status, body, _ = post(shop, key, {"email": "b@example.com"})
    assert status == 400
    assert "different parameters" in str(body["message"])
    assert shop.http.get("/api/v1/customers").json()["count"] == 1


def test_error_responses_are_replayed_too(shop: Merchant) -> None:
    key = str(uuid.uuid4())
    first = post(shop, key, {"email": "bad"})
    second = post(shop, key, {"email": "bad"})
    assert first[0] == second[0] == 400
    assert first[1] == second[1]
    assert second[2] is True


def test_keys_are_scoped_per_organization(shop: Merchant, other_shop: Merchant) -> None:
    key = str(uuid.uuid4())
    mine = post(shop, key, {"email": "a@example.com"})
    theirs = post(other_shop, key, {"email": "a@example.com"})
    assert mine[0] == theirs[0] == 200
    assert mine[1]["id"] != theirs[1]["id"]
    assert theirs[2] is False


def test_fifty_concurrent_duplicates_have_one_effect(live: LiveServer, shop: Merchant) -> None:
    key = str(uuid.uuid4())

    def one_client(_: int) -> tuple[int, dict[str, object], bool]:
        # A client of its own per caller, as 50 separate processes retrying would have.
        with live.client(shop.api_key) as http:
            resp = http.post("/api/v1/customers", json={"email": "race@example.com"}, headers={"Idempotency-Key": key})
            return resp.status_code, resp.json(), resp.headers.get("idempotent-replayed") == "true"

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one_client, range(50)))
    statuses = [r[0] for r in results]
    assert set(statuses) <= {200, 409}, statuses
    ok_ids = {r[1]["id"] for r in results if r[0] == 200}
    assert len(ok_ids) == 1
    for status, body, _ in results:
        if status == 409:
            assert body["statusCode"] == 409
    assert shop.http.get("/api/v1/customers").json()["count"] == 1
    # After the dust settles the key replays the one result.
    assert post(shop, key, {"email": "race@example.com"})[1]["id"] in ok_ids


def test_key_expires_after_24_hours(live: LiveServer, shop: Merchant) -> None:
    key = str(uuid.uuid4())
    first = post(shop, key, {"email": "day@example.com"})
    live.clock.advance(timedelta(hours=24, minutes=1))
    try:
        again = post(shop, key, {"email": "day@example.com"})
    finally:
        live.clock.advance(-timedelta(hours=24, minutes=1))
    assert again[2] is False
    assert again[1]["id"] != first[1]["id"]


def test_in_flight_key_is_409_until_stale(live: LiveServer, shop: Merchant) -> None:
    """A request that died mid-flight leaves its claim behind; it blocks retries only for a minute."""
    key = str(uuid.uuid4())
    post(shop, key, {"email": "crash@example.com"})
    # Make the stored record look like a claim whose request is still running.
    with live.database.write_sessions() as db:
        db.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key == key, IdempotencyRecord.organization_id == shop.organization_id)
            .values(state="in_flight", status_code=None, response_body=None, locked_at=live.clock.now())
        )
        db.commit()
    status, _, _ = post(shop, key, {"email": "crash@example.com"})
    assert status == 409
    live.clock.advance(timedelta(seconds=61))
    try:
        status, _body, replayed = post(shop, key, {"email": "crash@example.com"})
    finally:
        live.clock.advance(-timedelta(seconds=61))
    assert status == 200
    assert replayed is False


def test_invalid_key_is_400(shop: Merchant) -> None:
    status, body, _ = post(shop, "x" * 256, {"email": "a@example.com"})
    assert status == 400
    assert "Idempotency-Key" in str(body["message"])

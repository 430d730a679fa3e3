from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from kassa.api.models import IdempotencyRecord
from kassa.background import make_runner
from kassa.customers.models import Customer
from kassa.db.engine import Database, make_database
from support import Backend, LiveServer, Merchant, free_port, fresh_database_url, refusing, start_server


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


def stored(live: LiveServer, shop: Merchant, key: str) -> IdempotencyRecord | None:
    with live.database.read_sessions() as db:
        return db.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.organization_id == shop.organization_id, IdempotencyRecord.key == key
            )
        )


def customers_with(live: LiveServer, shop: Merchant, email: str) -> list[Customer]:
    with live.database.read_sessions() as db:
        return list(
            db.scalars(
                select(Customer).where(Customer.organization_id == shop.organization_id, Customer.email == email)
            )
        )


def test_the_effect_and_the_stored_answer_commit_together(live: LiveServer, shop: Merchant) -> None:
    """After a request both exist or neither: a 200's customer and its stored answer; a 400 stores its answer only."""
    created_key, refused_key = str(uuid.uuid4()), str(uuid.uuid4())
    resp = shop.http.post(
        "/api/v1/customers", json={"email": "kept@example.com"}, headers={"Idempotency-Key": created_key}
    )
    assert resp.status_code == 200, resp.text
    [customer] = customers_with(live, shop, "kept@example.com")
    record = stored(live, shop, created_key)
    assert record is not None
    assert (record.state, record.status_code, record.response_body) == ("done", 200, resp.text)
    assert str(customer.id) == resp.json()["id"]

    refused = shop.http.post("/api/v1/customers", json={"email": "no"}, headers={"Idempotency-Key": refused_key})
    assert refused.status_code == 400
    record = stored(live, shop, refused_key)
    assert record is not None
    assert (record.state, record.status_code, record.response_body) == ("done", 400, refused.text)
    assert shop.http.get("/api/v1/customers").json()["count"] == 1  # the 400 created nothing


@pytest.mark.parametrize("failing", ["the effect", "storing the answer"])
def test_a_server_error_leaves_nothing_and_frees_the_key_for_a_retry(
    live: LiveServer, shop: Merchant, failing: str
) -> None:
    """The database refuses the customer's insert, or the update that stores the answer (after the insert, in the
    same transaction): a 500, no customer, no stored answer and no claim; the same key then works."""
    key = str(uuid.uuid4())
    email = f"{key}@example.com"
    name = f"kassa_test_refuse_{key[:8]}"
    if failing == "the effect":
        trigger = refusing(live, name, "BEFORE INSERT", "customers", f"NEW.email = '{email}'")
    else:
        trigger = refusing(
            live, name, "BEFORE UPDATE", "idempotency_records", f"NEW.key = '{key}' AND NEW.state = 'done'"
        )
    with trigger:
        failed = shop.http.post("/api/v1/customers", json={"email": email}, headers={"Idempotency-Key": key})
        assert failed.status_code == 500
        assert failed.json()["statusCode"] == 500
        assert customers_with(live, shop, email) == []
        assert stored(live, shop, key) is None
    status, body, replayed = post(shop, key, {"email": email})
    assert (status, replayed) == (200, False)
    [customer] = customers_with(live, shop, email)
    assert body["id"] == str(customer.id)
    record = stored(live, shop, key)
    assert record is not None
    assert (record.state, record.status_code) == ("done", 200)
    assert post(shop, key, {"email": email}) == (200, body, True)


def test_keys_older_than_a_day_are_purged_by_the_job_runner(live: LiveServer, shop: Merchant) -> None:
    ttl = timedelta(seconds=live.settings.idempotency_ttl_seconds)
    keys = {age: str(uuid.uuid4()) for age in (ttl + timedelta(minutes=1), ttl - timedelta(minutes=1), timedelta())}
    for age, key in keys.items():
        live.clock.advance(-age)  # the request was made `age` ago
        try:
            assert post(shop, key, {"email": f"{key}@example.com"})[0] == 200
        finally:
            live.clock.advance(age)
    # A fresh job runner runs its periodic tasks at once, as at every start and then hourly.
    make_runner(live.settings, live.database).run_periodic()
    old, young, new = keys.values()
    assert stored(live, shop, old) is None
    assert stored(live, shop, young) is not None
    assert stored(live, shop, new) is not None


SLOW_EMAIL = "slow@example.com"


def slow_insert(backend: Backend) -> tuple[list[str], list[str]]:
    """Statements that make inserting SLOW_EMAIL's customer take seconds, and the ones that undo them."""
    if backend == "postgresql":
        return [
            "CREATE FUNCTION kassa_test_slow() RETURNS trigger AS $$"
            " BEGIN PERFORM pg_sleep(3); RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER kassa_test_slow BEFORE INSERT ON customers FOR EACH ROW"
            f" WHEN (NEW.email = '{SLOW_EMAIL}') EXECUTE FUNCTION kassa_test_slow()",
        ], ["DROP TRIGGER kassa_test_slow ON customers", "DROP FUNCTION kassa_test_slow()"]
    # A SQLite trigger cannot sleep (user functions live in the server's connections, out of the test's reach):
    # it counts a 125-million-row cross join instead, which takes seconds.
    return [
        "CREATE TABLE kassa_test_burn (n INTEGER)",
        "INSERT INTO kassa_test_burn WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 500)"
        " SELECT n FROM c",
        "CREATE TRIGGER kassa_test_slow BEFORE INSERT ON customers FOR EACH ROW WHEN NEW.email = 'slow@example.com'"
        " BEGIN SELECT count(*) FROM kassa_test_burn a, kassa_test_burn b, kassa_test_burn c; END",
    ], ["DROP TRIGGER kassa_test_slow", "DROP TABLE kassa_test_burn"]


def execute(database: Database, statements: list[str]) -> None:
    with database.write_sessions() as db:
        for statement in statements:
            db.execute(text(statement))
        db.commit()


def inserting_customer(database: Database, backend: Backend, key: str) -> bool:
    """Whether the request is inside its transaction: its claim is committed and its insert is running."""
    with database.read_sessions() as db:
        if backend == "postgresql":
            running = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE :q"
            return bool(db.scalar(text(running), {"q": "INSERT INTO customers%"}))
        if db.scalar(select(IdempotencyRecord.id).where(IdempotencyRecord.key == key)) is None:
            return False
    # SQLite: a write transaction is open (`kassa api` writes nothing else), so BEGIN IMMEDIATE fails at once.
    path = make_url(database.engine.url).database
    assert path is not None
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def start_kassa_api(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kassa", "api", "--port", str(port)], env=env, stdout=out, stderr=out
        )

    def answers() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answers, "kassa api to answer", timeout=60)
    return process


def test_a_process_killed_mid_request_leaves_nothing_and_the_key_works_after_a_minute(
    backend: Backend, tmp_path: Path
) -> None:
    """`kassa api` is SIGKILLed while a POST with an Idempotency-Key is inside its transaction (its insert held
    by a slow trigger). Nothing of it remains but the claim, which holds no answer; after a restart the claim
    still holds the key (409) until it is a minute old, then the same key creates the customer once."""
    url = fresh_database_url(backend, tmp_path, "killed")
    env = os.environ | {"KASSA_DATA_DIR": str(tmp_path), "KASSA_DATABASE_URL": url, "KASSA_LOG_LEVEL": "ERROR"}
    kassa = [sys.executable, "-m", "kassa"]
    subprocess.run([*kassa, "migrate"], env=env, check=True, capture_output=True)
    created = subprocess.run([*kassa, "org", "create", "Crash", "--json"], env=env, check=True, capture_output=True)
    api_key = json.loads(created.stdout)["apiKey"]
    database = make_database(url, pool_size=2)
    install, remove = slow_insert(backend)
    execute(database, install)
    key = str(uuid.uuid4())
    port = free_port()
    process = start_kassa_api(env, port, tmp_path / "api.log")
    try:

        def send() -> httpx.Response | httpx.TransportError:
            headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": key}
            try:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as http:
                    return http.post("/api/v1/customers", json={"email": SLOW_EMAIL})
            except httpx.TransportError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=1) as pool:
            sending = pool.submit(send)
            wait_until(lambda: inserting_customer(database, backend, key), "the request to be inside its transaction")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            assert isinstance(sending.result(timeout=30), httpx.TransportError)  # no answer ever came
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    # PostgreSQL rolls back the dead process's transaction when its connection sees the client gone.
    wait_until(lambda: not inserting_customer(database, backend, key), "the dead request's transaction to end")
    with database.read_sessions() as db:
        customers = list(db.scalars(select(Customer).where(Customer.email == SLOW_EMAIL)))
        record = db.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == key))
    assert record is not None
    assert customers == []
    assert (record.state, record.status_code, record.response_body) == ("in_flight", None, None)
    execute(database, remove)
    database.dispose()

    restarted = start_server(backend, url, data_dir=tmp_path, devnet=False)
    try:
        with restarted.client(api_key, **{"Idempotency-Key": key}) as http:
            assert http.post("/api/v1/customers", json={"email": SLOW_EMAIL}).status_code == 409
            restarted.clock.advance(timedelta(seconds=restarted.settings.idempotency_stale_seconds + 1))
            retried = http.post("/api/v1/customers", json={"email": SLOW_EMAIL})
            assert retried.status_code == 200, retried.text
            assert retried.headers.get("idempotent-replayed") is None
            replayed = http.post("/api/v1/customers", json={"email": SLOW_EMAIL})
            assert (replayed.headers.get("idempotent-replayed"), replayed.json()) == ("true", retried.json())
        with restarted.database.read_sessions() as db:
            [customer] = db.scalars(select(Customer).where(Customer.email == SLOW_EMAIL))
            record = db.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == key))
        assert str(customer.id) == retried.json()["id"]
        assert record is not None
        assert (record.state, record.status_code, record.response_body) == ("done", 200, retried.text)
    finally:
        restarted.stop()


def test_invalid_key_is_400(shop: Merchant) -> None:
    status, body, _ = post(shop, "x" * 256, {"email": "a@example.com"})
    assert status == 400
    assert "Idempotency-Key" in str(body["message"])

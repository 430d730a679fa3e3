"""The migrations one revision at a time, on both databases: up through every revision in a topological order of
the graph (0002, 0003 and 0004 branch from 0001, 0005 merges them, 0006, 0007 and 0008 branch from 0005), down
again one revision at a time, empty and with data the application wrote."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import RevisionStep
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

from factories import make_coupon, make_price, make_session, make_tax_rate
from kassa.db.migrate import alembic_config, upgrade
from kassa.models import Base
from support import Backend, LiveServer, fresh_database_url, merchant, start_server

MERGE = "0005"


def script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def topological_order() -> list[str]:
    """Every revision, each after all of its parents."""
    order = [r.revision for r in reversed(list(script().walk_revisions("base", "heads")))]
    seen: set[str] = set()
    for revision in order:
        assert set(parents(revision)) <= seen, f"{revision} comes before one of its parents"
        seen.add(revision)
    return order


def parents(revision: str) -> tuple[str, ...]:
    down = script().get_revision(revision).down_revision
    if down is None:
        return ()
    return (down,) if isinstance(down, str) else tuple(down)


def heads(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return set()
        return {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}


def applied(engine: Engine) -> set[str]:
    """The revisions the database is at: its heads and all their ancestors."""
    found: set[str] = set()
    todo = list(heads(engine))
    while todo:
        revision = todo.pop()
        if revision not in found:
            found.add(revision)
            todo.extend(parents(revision))
    return found


def step_down(url: str, revision: str) -> None:
    """Run one head revision's downgrade, as `alembic downgrade` does. Alembic cannot name "one step below" a
    merge revision (`0005@-1` is an "Ambiguous walk"), so the step is given to it explicitly."""
    cfg = alembic_config(url)
    scripts = ScriptDirectory.from_config(cfg)
    engine = create_engine(url)
    try:
        assert revision in heads(engine), f"{revision} is not a head"
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            step = RevisionStep(scripts.revision_map, scripts.get_revision(revision), False)
            with EnvironmentContext(cfg, scripts, fn=lambda _rev, _context: [step]):
                scripts.run_env()
            conn.commit()
    finally:
        engine.dispose()


def schema(engine: Engine) -> dict[str, Any]:
    """Tables with their columns, keys, indexes and constraints, order-free. Server defaults are left out: a
    downgrade that adds a NOT NULL column back to a table with rows needs one that the original did not have."""
    inspector = inspect(engine)
    out: dict[str, Any] = {}
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        out[table] = {
            "columns": {(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)},
            "primary_key": tuple(inspector.get_pk_constraint(table)["constrained_columns"]),
            "foreign_keys": {
                (
                    fk["name"],
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    (fk.get("options") or {}).get("ondelete"),
                )
                for fk in inspector.get_foreign_keys(table)
            },
            "indexes": {(i["name"], tuple(i["column_names"]), i["unique"]) for i in inspector.get_indexes(table)},
            "unique": {(u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)},
        }
    return out


Table = list[dict[str, str]]


def rows(engine: Engine) -> dict[str, Table]:
    """Every row of every table, each value as its repr: compared on the columns two schemas share."""
    out: dict[str, Table] = {}
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            if table != "alembic_version":
                result = conn.execute(text(f'SELECT * FROM "{table}"'))  # noqa: S608  # names from the inspector
                out[table] = [{column: repr(value) for column, value in row._mapping.items()} for row in result]
    return out


def assert_rows_kept(before: dict[str, Table], now: dict[str, Table]) -> None:
    for table, kept in now.items():
        assert table in before, f"{table} appeared"
        if not kept and not before[table]:
            continue
        shared = sorted(set((kept or before[table])[0]) & set((before[table] or kept)[0]))

        def project(table_rows: Table, columns: list[str] = shared) -> list[tuple[str, ...]]:
            return sorted(tuple(row[c] for c in columns) for row in table_rows)

        assert project(kept) == project(before[table]), f"the rows of {table} changed"


@contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_every_revision_steps_up_and_back_down_one_at_a_time(backend: Backend, tmp_path: Path) -> None:
    order = topological_order()
    assert {"0001", "0002", "0003", "0004", MERGE, "0006", "0007", "0008"} <= set(order)
    assert set(parents(MERGE)) == {"0002", "0003", "0004"}
    url = fresh_database_url(backend, tmp_path, "steps")
    with engine_for(url) as engine:
        schemas = [schema(engine)]
        for revision in order:
            before = applied(engine)
            upgrade(url, revision)
            assert applied(engine) == before | {revision}, revision  # this revision and nothing else
            schemas.append(schema(engine))
            assert schemas[-1] != schemas[-2], f"{revision} changed nothing"
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == []  # the branches, applied in this order, build what the models describe

        for index in range(len(order) - 1, -1, -1):
            revision = order[index]
            before = applied(engine)
            step_down(url, revision)
            assert applied(engine) == before - {revision}, revision
            assert schema(engine) == schemas[index], f"downgrading {revision} did not restore the schema below it"
        assert heads(engine) == set()
        assert schema(engine) == {}


def fill(live: LiveServer) -> dict[str, Any]:
    """What a merchant writes through the API at head, one object per migration's tables; returns how the API
    shows each of them."""
    with merchant(live) as shop:
        price = make_price(shop, name="Kept")
        tax = make_tax_rate(shop, percentage=7)
        coupon = make_coupon(shop, code="KEEP10")
        session = make_session(shop, price_id=price["id"], defaultPromotionCode="KEEP10", taxRateIds=[tax["id"]])
        customer = shop.http.post(
            "/api/v1/customers", json={"email": "kept@example.com"}, headers={"Idempotency-Key": "keep-me"}
        )
        assert customer.status_code == 200, customer.text
        wallet = {"name": "Treasury", "chainId": 31337, "address": "0x" + "cd" * 20}
        assert shop.http.post("/api/v1/organization/withdrawal-addresses", json=wallet).status_code == 200
        hook = {"description": "orders", "url": "https://shop.example.com/hook", "enabledEvents": {"events": ["*"]}}
        assert shop.http.post("/api/v1/webhook-endpoints", json=hook).status_code == 200
        paths = {
            "product": f"/api/v1/products/{price['productId']}",
            "price": f"/api/v1/prices/{price['id']}",
            "tax": f"/api/v1/tax-rates/{tax['id']}",
            "coupon": f"/api/v1/coupons/{coupon['id']}",
            "session": f"/api/v1/checkout/sessions/{session['id']}",
            "customer": f"/api/v1/customers/{customer.json()['id']}",
            "organization": "/api/v1/organization",
        }
        shown = {name: shop.http.get(path).json() for name, path in paths.items()}
        assert session["discounts"], session  # the code is applied: the session holds a reservation
    return {"key": shop.api_key, "paths": paths, "shown": shown, "customer": customer.json(), "base": live.base_url}


def test_data_written_at_head_survives_stepping_down_and_back_up(backend: Backend, tmp_path: Path) -> None:
    url = fresh_database_url(backend, tmp_path, "data")
    live = start_server(backend, url, data_dir=tmp_path, devnet=False)
    try:
        written = fill(live)
    finally:
        live.stop()
    order = topological_order()
    above_merge = order[order.index(MERGE) + 1 :]
    with engine_for(url) as engine:
        at_head = rows(engine)
        for table in ("customers", "idempotency_records", "organizations", "api_keys", "products", "prices"):
            assert at_head[table], f"nothing written to {table}"
        for table in ("tax_rates", "coupons", "promotion_codes", "checkout_sessions", "checkout_line_items"):
            assert at_head[table], f"nothing written to {table}"
        for table in ("withdrawal_addresses", "webhook_endpoints", "jobs"):
            assert at_head[table], f"nothing written to {table}"

        # Down to the merge revision (the payments, webhooks and reservations revisions go), and up again.
        for revision in reversed(above_merge):
            step_down(url, revision)
            assert_rows_kept(at_head, rows(engine))
        assert heads(engine) == {MERGE}
        kept_tables = set(rows(engine))
        upgrade(url)
        assert_rows_kept(at_head, {t: r for t, r in rows(engine).items() if t in kept_tables})
        with engine.connect() as conn:
            reserved = conn.execute(text("SELECT times_reserved FROM promotion_codes")).scalars().all()
        assert reserved == [1]  # 0008 counts the open session holding the code again

    live = start_server(backend, url, data_dir=tmp_path, devnet=False)
    try:
        with live.client(written["key"]) as http:
            for name, path in written["paths"].items():
                # The same but for the server's address (its port) in the session's hosted-page URL.
                shown = json.loads(http.get(path).text.replace(live.base_url, written["base"]))
                assert shown == written["shown"][name], name
            # The stored response of the idempotent create is still there, and still answers a replay.
            replay = http.post(
                "/api/v1/customers", json={"email": "kept@example.com"}, headers={"Idempotency-Key": "keep-me"}
            )
            assert replay.json() == written["customer"]
            # What lived in the dropped tables is gone with them, and the tables work again.
            assert http.get("/api/v1/webhook-endpoints").json()["data"] == []
            assert http.get("/api/v1/organization/withdrawal-addresses").json() == []
    finally:
        live.stop()

    # And on down to the base, one revision at a time, the rows of every table still there kept at each step.
    with engine_for(url) as engine:
        now = rows(engine)
        for revision in reversed(order):
            step_down(url, revision)
            assert_rows_kept(now, rows(engine))
        assert heads(engine) == set()
        assert schema(engine) == {}

"""Hosted checkout page: renders per second on SQLite (target ≥ 1,000/s).

Two figures for `GET /pay/{id}` of a session with three line items, a tax rate, a default promotion code, every
collection flag and three custom fields:
- over HTTP: a separate `kassa api` process on SQLite, loaded by a closed-loop client in this process (on a
  2-core machine the two share the CPU);
- in process: the page route called directly (database reads + Jinja2 render, no HTTP), in one process and in
  one process per CPU.

Run: `.venv/bin/python -m bench.page_render [--total N] [--concurrency C]`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
import warnings
from typing import Any

import httpx

from bench.harness import kassa_server, run_load

SESSION_FIELDS: dict[str, Any] = {
    "nameCollection": True,
    "emailCollection": True,
    "phoneNumberCollection": True,
    "billingAddressCollection": True,
    "shippingAddressCollection": True,
    "allowPromotionCodes": True,
    "defaultPromotionCode": "BENCH10",
    "cancelUrl": "https://shop.example.com/cart",
    "customFields": {
        "fields": [
            {"key": "company", "type": "text", "label": {"custom": "Company"}, "optional": True},
            {"key": "seats", "type": "numeric", "label": {"custom": "Seats"}},
            {
                "key": "size",
                "type": "dropdown",
                "label": {"custom": "Size"},
                "dropdown": {"options": [{"label": "S", "value": "s"}, {"label": "L", "value": "l"}]},
            },
        ]
    },
}


def make_session(http: httpx.Client) -> str:
    def ok(resp: httpx.Response) -> dict[str, Any]:
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        return body

    tax = ok(http.post("/api/v1/tax-rates", json={"name": "VAT", "percentage": 20, "type": "exclusive"}))
    ok(
        http.post(
            "/api/v1/coupons",
            json={"name": "Bench", "percentOff": 10, "promotionCodeData": {"data": [{"code": "BENCH10"}]}},
        )
    )
    prices = [
        ok(
            http.post(
                "/api/v1/prices",
                json={
                    "productData": {"name": f"Item {i}", "description": "A thing"},
                    "currency": "usdc",
                    "unitAmount": (i + 1) * 10**9,
                },
            )
        )
        for i in range(3)
    ]
    body = {
        "successUrl": "https://shop.example.com/thanks",
        "lineItems": {"data": [{"priceId": p["id"], "quantity": 2} for p in prices]},
        "taxRateIds": [tax["id"]],
    } | SESSION_FIELDS
    return str(ok(http.post("/api/v1/checkout/sessions", json=body))["id"])


def _app(data_dir: str) -> Any:
    from kassa.app import create_app
    from kassa.config import load_settings

    return create_app(load_settings({"KASSA_DATA_DIR": data_dir, "KASSA_LOG_LEVEL": "WARNING"}))


def _render_for(data_dir: str, session_id: str, seconds: float) -> int:
    """Call the page route for `seconds` in this process; returns how many pages it rendered."""
    from starlette.requests import Request

    from kassa.checkout import pages

    app = _app(data_dir)
    request = Request({"type": "http", "app": app, "method": "GET", "path": "/", "headers": [], "query_string": b""})
    pages.checkout_page(session_id, request)  # warm-up: templates compiled, caches filled
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        assert pages.checkout_page(session_id, request).status_code == 200
        count += 1
    app.state.runtime.db.dispose()
    return count


def in_process(seconds: float, processes: int = 1) -> float:
    """Renders per second of the page route called directly (no HTTP) on a fresh SQLite database, summed over
    `processes` processes rendering at once (as that many `kassa api` processes would)."""
    with warnings.catch_warnings():  # the test client's own deprecation notice, about its httpx backend
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from kassa.auth.organizations import create_organization
    from kassa.config import load_settings
    from kassa.db.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        upgrade(load_settings({"KASSA_DATA_DIR": tmp}).database_url)
        app = _app(tmp)
        runtime = app.state.runtime
        with runtime.db.write_sessions() as db:
            _, issued = create_organization(db, runtime.settings.clock, "Bench", "test")
            db.commit()
        with TestClient(app, headers={"Authorization": f"Bearer {issued.secret}"}) as client:
            session_id = make_session(client)
        runtime.db.dispose()
        context = multiprocessing.get_context("spawn")
        with context.Pool(processes) as pool:
            counts = pool.starmap(_render_for, [(tmp, session_id, seconds)] * processes)
        return sum(counts) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of the in-process runs")
    args = parser.parse_args()
    print(f"GET /pay/{{id}}: 3 line items, tax, a promotion code, every field; {args.total} requests over HTTP")
    with (
        kassa_server("sqlite") as (base, key),
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http,
    ):
        session_id = make_session(http)

        async def page(client: httpx.AsyncClient, _i: int) -> httpx.Response:
            return await client.get(f"/pay/{session_id}")

        result = run_load(
            "sqlite     GET /pay/{id} (HTTP)", base, key, page, concurrency=args.concurrency, total=args.total
        )
        print(result.line(), flush=True)
    for processes in sorted({1, os.cpu_count() or 1}):
        rate = in_process(args.seconds, processes)
        label = f"sqlite     GET /pay/{{id}} (in process, {processes} proc)"
        print(f"{label:<44} {rate:>8.0f} renders/s", flush=True)


if __name__ == "__main__":
    main()

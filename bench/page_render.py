"""Hosted checkout page: renders per second on SQLite (target ≥ 1,000/s).

Two figures for `GET /pay/{id}` of a session with three line items, a tax rate, a default promotion code, every
collection flag and three custom fields:
- over HTTP: a separate `kassa api` process on SQLite, loaded by a closed-loop client in this process (on a
  2-core machine the two share the CPU);
- in process: the page route called directly (database reads + Jinja2 render, no HTTP), one thread.

Run: `.venv/bin/python -m bench.page_render [--total N] [--concurrency C]`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
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


def in_process(seconds: float) -> float:
    """Renders per second of the page route called directly, on a fresh SQLite database."""
    from starlette.requests import Request

    from kassa.app import create_app
    from kassa.auth.organizations import create_organization
    from kassa.checkout import pages
    from kassa.config import load_settings
    from kassa.db.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings({"KASSA_DATA_DIR": tmp, "KASSA_LOG_LEVEL": "WARNING"})
        upgrade(settings.database_url)
        app = create_app(settings)
        runtime = app.state.runtime
        with runtime.db.write_sessions() as db:
            _, issued = create_organization(db, settings.clock, "Bench", "test")
            db.commit()
        from fastapi.testclient import TestClient

        with TestClient(app, headers={"Authorization": f"Bearer {issued.secret}"}) as client:
            session_id = make_session(client)
        request = Request(
            {"type": "http", "app": app, "method": "GET", "path": "/", "headers": [], "query_string": b""}
        )
        pages.checkout_page(session_id, request)  # warm-up: templates compiled, caches filled
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            response = pages.checkout_page(session_id, request)
            assert response.status_code == 200
            count += 1
        runtime.db.dispose()
        return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of the in-process run")
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
    rate = in_process(args.seconds)
    print(f"{'sqlite     GET /pay/{id} (in process, 1 thread)':<44} {rate:>8.0f} renders/s", flush=True)


if __name__ == "__main__":
    main()

"""Checkout benchmark (issue 4): create-session throughput and latency next to the foundation's one-row POST,
in the same run, on SQLite and PostgreSQL, with 32 concurrent clients.

The load comes from `wrk` (Debian package `wrk`) when it is installed — a C load generator that does not
compete for the GIL — and otherwise from the Python generator in bench/harness.py (slower; say which).
Run: `make bench` or `.venv/bin/python -m bench.checkout_throughput [--seconds 10] [--connections 32]`.
"""

from __future__ import annotations

import argparse
import json
import shutil

import httpx

from bench.harness import kassa_server, run_load, wrk_post

SESSION_BODY = {
    "successUrl": "https://shop.example.com/thanks?session={CHECKOUT_SESSION_ID}",
    "lineItems": {"data": [{"priceId": "PRICE", "quantity": 2}]},
    "metadata": {"order": "bench"},
}
CUSTOMER_BODY = {"email": "bench@example.com", "name": "Bench"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None
    print(
        f"load generator: {'wrk' if use_wrk else 'python (httpx)'}; {args.connections} connections; "
        "one `kassa api` process (2-core machine shared with the load generator)"
    )
    for backend in args.backends.split(","):
        with kassa_server(backend) as (base, key):
            price = httpx.post(
                f"{base}/api/v1/prices",
                json={"productData": {"name": "Bench"}, "currency": "usdc", "unitAmount": "2500000000"},
                headers={"Authorization": f"Bearer {key}"},
            ).json()
            session_body: dict[str, object] = json.loads(json.dumps(SESSION_BODY).replace("PRICE", price["id"]))
            cases: list[tuple[str, str, dict[str, object]]] = [
                ("POST /api/v1/customers (1 row)", "/api/v1/customers", dict(CUSTOMER_BODY)),
                ("POST /api/v1/checkout/sessions", "/api/v1/checkout/sessions", session_body),
            ]
            for name, path, body in cases:
                if use_wrk:
                    line = wrk_post(base, key, path, body, args.seconds, args.connections)
                else:

                    async def send(
                        client: httpx.AsyncClient, _i: int, p: str = path, b: object = body
                    ) -> httpx.Response:
                        return await client.post(p, json=b)

                    line = run_load(
                        name, base, key, send, concurrency=args.connections, total=args.seconds * 200
                    ).line()
                print(f"{backend:<10} {name:<36} {line}", flush=True)


if __name__ == "__main__":
    main()

"""Checkout benchmark (issue 4): create-session throughput and latency next to the foundation's one-row POST,
in the same run, on SQLite and PostgreSQL, with 32 concurrent clients.

The load comes from `wrk` (Debian package `wrk`) when it is installed — a C load generator that does not
compete for the GIL — and otherwise from the Python generator in bench/harness.py (slower; say which).
Run: `make bench` or `.venv/bin/python -m bench.checkout_throughput [--seconds 10] [--connections 32]`.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx

from bench.harness import kassa_server, run_load

SESSION_BODY = {
    "successUrl": "https://shop.example.com/thanks?session={CHECKOUT_SESSION_ID}",
    "lineItems": {"data": [{"priceId": "PRICE", "quantity": 2}]},
    "metadata": {"order": "bench"},
}
CUSTOMER_BODY = {"email": "bench@example.com", "name": "Bench"}


def _wrk(base: str, key: str, path: str, body: dict[str, object], seconds: int, connections: int) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(json.dumps(body))}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, f"{base}{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    Path(script.name).unlink()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+\w+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+\w+)", out).group(1)  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return f"{rate:>8.0f} req/s   p50 {p50:>8}   p99 {p99:>8}   non-2xx {errors.group(1) if errors else 0}"


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
                    line = _wrk(base, key, path, body, args.seconds, args.connections)
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

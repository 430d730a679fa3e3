"""Foundation benchmark: an authenticated one-row POST and a bare endpoint, on SQLite and PostgreSQL.

Run: `make bench` (or `.venv/bin/python -m bench.api_throughput [--total N] [--concurrency C]`).
The load generator runs in this process; the server is a separate `kassa api` process, so on a 2-core machine
the two share the CPU, as they would in a single-box deployment.
"""

from __future__ import annotations

import argparse
import shutil

import httpx

from bench.harness import RequestFn, kassa_server, run_load, wrk_post


async def bare(client: httpx.AsyncClient, _i: int) -> httpx.Response:
    return await client.get("/healthz")


async def create_customer(client: httpx.AsyncClient, i: int) -> httpx.Response:
    return await client.post("/api/v1/customers", json={"email": f"bench{i}@example.com", "name": "Bench"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None
    generator = "wrk, 10 s per row" if use_wrk else f"python (httpx), {args.total} requests per row"
    print(f"load generator: {generator}; {args.concurrency} concurrent clients; one `kassa api` process")
    cases: list[tuple[str, RequestFn, str, dict[str, object] | None]] = [
        ("GET /healthz (bare)", bare, "/healthz", None),
        (
            "POST /api/v1/customers (auth + 1 row)",
            create_customer,
            "/api/v1/customers",
            {"email": "bench@example.com", "name": "Bench"},
        ),
    ]
    for backend in args.backends.split(","):
        with kassa_server(backend) as (base, key):
            for name, fn, path, body in cases:
                if use_wrk:
                    print(
                        f"{backend:<10} {name:<40} {wrk_post(base, key, path, body, 10, args.concurrency)}", flush=True
                    )
                    continue
                result = run_load(
                    f"{backend:<10} {name}", base, key, fn, concurrency=args.concurrency, total=args.total
                )
                print(result.line(), flush=True)


if __name__ == "__main__":
    main()

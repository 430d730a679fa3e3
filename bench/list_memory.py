"""Memory of worst-case list and export calls (issue 10, point 5): RSS of one `kassa serve` process on SQLite.

Seeds 200 checkout sessions of 100 line items each (100 products with descriptions, one price each) through the
API, then fires 10 concurrent `GET /api/v1/checkout/sessions/export` and, after that, 10 concurrent
`GET /api/v1/checkout/sessions?limit=200`. The server's RSS (VmRSS of /proc/PID/status) is sampled every 10 ms;
the peak of each phase is the larger of the samples and the kernel's high-water mark (VmHWM, reset before each
phase through /proc/PID/clear_refs). Printed: baseline (idle after seeding), peak, and RSS 3 s after the calls;
each phase runs `--rounds` times, so a later round shows whether RSS keeps growing or has settled.
Target: peak under 400 MB, and "after" near the baseline. `--phases small,list` adds a control burst of
`limit=1` lists (threads and pool connections alone). Allocator settings (MALLOC_ARENA_MAX=2, ...) set in the
environment reach the server.

Run: `.venv/bin/python -m bench.list_memory [--sessions 200] [--lines 100] [--concurrency 10] [--rounds 2]`.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.harness import kassa_process

DESCRIPTION = "A product description of the length a shop writes, shown on the checkout page. " * 3


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def reset_peak(pid: int) -> bool:
    """Reset the kernel's RSS high-water mark (VmHWM) of the process; false where the kernel refuses."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Sampler:
    """Samples VmRSS in a thread while a phase runs; `peak` also reads VmHWM at the end."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(rss_kib(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> Sampler:
        self.hwm_reset = reset_peak(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.samples + ([rss_kib(self.pid, "VmHWM")] if self.hwm_reset else []))


@contextmanager
def kassa_serve() -> Iterator[tuple[str, str, int]]:
    """`kassa serve` (embedded mode, with the dev chain) on a fresh SQLite file; yields (URL, API key, pid)."""
    with kassa_process("sqlite", "serve", {"KASSA_DEVNET": "1"}) as process:
        yield process.base_url, process.api_key, process.pid


async def seed(base: str, key: str, sessions: int, lines: int) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:

        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            resp = await client.post(path, json=body)
            if resp.status_code != 200:
                raise RuntimeError(f"POST {path}: {resp.status_code} {resp.text[:300]}")
            out: dict[str, Any] = resp.json()
            return out

        price_ids = []
        for i in range(lines):
            price = await post(
                "/api/v1/prices",
                {
                    "productData": {"name": f"Bench product {i}", "description": DESCRIPTION},
                    "currency": "usdc",
                    "unitAmount": str(1_000_000 + i),
                },
            )
            price_ids.append(price["id"])
        body = {
            "successUrl": "https://shop.example.com/thanks?session={CHECKOUT_SESSION_ID}",
            "lineItems": {"data": [{"priceId": p, "quantity": 1} for p in price_ids]},
            "metadata": {"order": "bench"},
        }
        counter = iter(range(sessions))

        async def worker() -> None:
            for _ in counter:
                await post("/api/v1/checkout/sessions", body)

        await asyncio.gather(*(worker() for _ in range(4)))


async def burst(base: str, key: str, path: str, concurrency: int) -> list[tuple[int, int]]:
    """`concurrency` simultaneous GETs of `path`; (status, body bytes) of each, bodies read and dropped."""
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=300, limits=limits) as client:

        async def one() -> tuple[int, int]:
            size = 0
            async with client.stream("GET", path) as resp:
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
            return resp.status_code, size

        return await asyncio.gather(*(one() for _ in range(concurrency)))


def mb(kib: int) -> str:
    return f"{kib / 1024:7.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds to wait before the 'after' reading")
    parser.add_argument("--phases", default="export,list", help="bursts to fire, in order: export, list, small")
    parser.add_argument(
        "--rounds", type=int, default=2, help="bursts per phase: later rounds show whether RSS keeps growing"
    )
    args = parser.parse_args()
    # The export first: its peak is then measured from the baseline, not from a heap the list already grew.
    paths = {
        "export": "/api/v1/checkout/sessions/export",
        "list": "/api/v1/checkout/sessions?limit=200",
        "small": "/api/v1/checkout/sessions?limit=1",
    }
    phases = [(name, paths[name]) for name in args.phases.split(",")]
    print(
        f"one `kassa serve` process on SQLite; {args.sessions} sessions x {args.lines} line items; "
        f"{args.concurrency} concurrent calls per phase"
    )
    with kassa_serve() as (base, key, pid):
        asyncio.run(seed(base, key, args.sessions, args.lines))
        time.sleep(args.settle)
        baseline = rss_kib(pid)
        print(f"baseline (idle after seeding)  {mb(baseline)}")
        for name, path in [phase for phase in phases for _ in range(args.rounds)]:
            with Sampler(pid) as sampler:
                results = asyncio.run(burst(base, key, path, args.concurrency))
            time.sleep(args.settle)
            after = rss_kib(pid)
            statuses = sorted({status for status, _ in results})
            size = max(s for _, s in results)
            print(
                f"{name:<7} {args.concurrency} x GET {path:<40} response {size / 1e6:6.1f} MB  status {statuses}  "
                f"peak {mb(sampler.peak)}  after {mb(after)}",
                flush=True,
            )


if __name__ == "__main__":
    main()

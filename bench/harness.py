"""Shared benchmark plumbing: a real `kassa api` process per database, and a closed-loop load generator."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

POSTGRES_URL = os.environ.get("KASSA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

    def line(self) -> str:
        return (
            f"{self.name:<44} {self.rate:>8.0f} req/s   p50 {self.percentile(0.5):6.1f} ms   "
            f"p99 {self.percentile(0.99):6.1f} ms   mean {statistics.fmean(self.latencies_ms):6.1f} ms   "
            f"errors {self.errors}"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def database_url(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "kassa_bench" WITH (FORCE)')
        conn.execute('CREATE DATABASE "kassa_bench"')
    return POSTGRES_URL.rsplit("/", 1)[0] + "/kassa_bench"


@dataclass(frozen=True)
class KassaProcess:
    base_url: str
    api_key: str  # a test-mode key of a fresh organization
    pid: int


@contextmanager
def kassa_process(
    backend: str, command: str = "api", extra_env: dict[str, str] | None = None
) -> Iterator[KassaProcess]:
    """Run `kassa <command>` (api, or serve) on a fresh database until the block ends."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = (
            os.environ
            | {
                "KASSA_DATABASE_URL": database_url(backend, tmp),
                "KASSA_DATA_DIR": str(tmp),
                "KASSA_LOG_LEVEL": "WARNING",
            }
            | (extra_env or {})
        )
        subprocess.run([sys.executable, "-m", "kassa", "migrate"], env=env, check=True, capture_output=True)
        created = subprocess.run(
            [sys.executable, "-m", "kassa", "org", "create", "Bench", "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        api_key = json.loads(created.stdout)["apiKey"]
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "kassa", command, "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"kassa {command} did not start")
                time.sleep(0.1)
            yield KassaProcess(base, api_key, proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@contextmanager
def kassa_server(backend: str) -> Iterator[tuple[str, str]]:
    """Start `kassa api` on a fresh database; yields (base URL, test-mode API key)."""
    with kassa_process(backend) as process:
        yield process.base_url, process.api_key


RequestFn = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


async def _load(base: str, api_key: str, fn: RequestFn, concurrency: int, total: int) -> tuple[int, float, list[float]]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {api_key}"}, limits=limits, timeout=60
    ) as client:

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                started = time.perf_counter()
                resp = await fn(client, i)
                latencies.append((time.perf_counter() - started) * 1000)
                if resp.status_code >= 400:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return errors, time.perf_counter() - started, latencies


def run_load(name: str, base: str, api_key: str, fn: RequestFn, *, concurrency: int, total: int) -> Result:
    # Warm-up: connection pools, imports, query caches.
    asyncio.run(_load(base, api_key, fn, concurrency, min(200, total)))
    errors, seconds, latencies = asyncio.run(_load(base, api_key, fn, concurrency, total))
    return Result(name, len(latencies), errors, seconds, latencies)


def wrk_post(base: str, key: str, path: str, body: dict[str, object] | None, seconds: int, connections: int) -> str:
    """Load `path` with wrk (POST with `body`, or GET when it is None); one summary line."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if body is not None:
            script.write(
                'wrk.method = "POST"\n'
                f"wrk.body = {json.dumps(json.dumps(body))}\n"
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
        script.write(f'wrk.headers["Authorization"] = "Bearer {key}"\n')
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

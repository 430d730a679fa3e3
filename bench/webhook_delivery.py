"""Webhook delivery benchmark: one `kassa worker` process delivering to a receiver on loopback.

Two figures per database:
- throughput: deliveries per second of one worker, draining a backlog of events (first to last request at the
  receiver; every outcome recorded in the database before the run counts as done);
- latency: delay from an event's commit to its first attempt arriving at the receiver, for events committed
  one by one at a steady rate while the worker is idle: with a separate worker process (it polls every 0.25 s;
  nothing wakes it across processes), and with a worker in the committing process (woken by the commit, as the
  API and the worker share a process in `kassa serve`).

Run: `.venv/bin/python -m bench.webhook_delivery [--events N] [--latency-events N] [--backends sqlite,postgresql]`.
The receiver and the event writer run in this process; the worker is a separate process, so on a 2-core machine
the worker, the receiver and PostgreSQL share the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy import func, select

from bench.harness import POSTGRES_URL
from kassa.auth.keys import Principal
from kassa.auth.organizations import create_organization
from kassa.config import load_settings
from kassa.db.engine import Database, make_database
from kassa.db.migrate import upgrade
from kassa.events.service import emit
from kassa.webhooks.models import WebhookDelivery
from kassa.webhooks.schemas import WebhookEndpointCreate
from kassa.webhooks.service import create_endpoint
from kassa.webhooks.worker import webhook_delivery

RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"


@dataclass
class Receiver:
    """A minimal keep-alive HTTP/1.1 server (fast enough never to be the bottleneck) noting arrival times."""

    arrivals: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _ready: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True, name="bench-receiver").start()
        self._ready.wait(10)

    async def _serve(self) -> None:
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        self._loop = asyncio.get_running_loop()
        self._ready.set()
        async with server:
            await server.serve_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                now = time.perf_counter()
                length, event_id = 0, ""
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"webhook-id":
                        event_id = value.strip().decode()
                await reader.readexactly(length)
                self.requests += 1
                self.arrivals.setdefault(event_id, now)
                writer.write(RESPONSE)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def database_url(backend: str, tmp: Path) -> str:
    """A fresh database of this benchmark's own (other benchmarks may be using theirs)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "kassa_bench_webhooks" WITH (FORCE)')
        conn.execute('CREATE DATABASE "kassa_bench_webhooks"')
    return POSTGRES_URL.rsplit("/", 1)[0] + "/kassa_bench_webhooks"


@dataclass(frozen=True)
class Setup:
    url: str
    database: Database
    principal: Principal
    tmp: Path


@contextmanager
def prepared(backend: str, receiver: Receiver) -> Iterator[Setup]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url = database_url(backend, tmp)
        upgrade(url)
        settings = load_settings({"KASSA_DATABASE_URL": url, "KASSA_DATA_DIR": str(tmp)})
        database = make_database(settings.database_url, pool_size=2)
        with database.write_sessions() as db:
            organization, _ = create_organization(db, settings.clock, "Bench", "test")
            principal = Principal.of(organization.id, "test")
            body = {"description": "bench", "url": f"http://127.0.0.1:{receiver.port}/hook"}
            endpoint = WebhookEndpointCreate.model_validate(body | {"enabledEvents": {"events": ["*"]}})
            create_endpoint(db, settings.clock, principal, endpoint)
            db.commit()
        try:
            yield Setup(settings.database_url, database, principal, tmp)
        finally:
            database.dispose()


def emit_events(setup: Setup, count: int, batch: int = 1000) -> list[str]:
    ids: list[str] = []
    clock = load_settings({"KASSA_DATABASE_URL": setup.url}).clock
    data = {"object": "checkout_session", "status": "complete", "amountTotal": "1000000000", "metadata": {"a": "b"}}
    for start in range(0, count, batch):
        with setup.database.write_sessions() as db:
            for _ in range(min(batch, count - start)):
                object_id = uuid.uuid4()
                event = emit(
                    db,
                    clock,
                    organization_id=setup.principal.organization_id,
                    mode="test",
                    type="checkout_session.completed",
                    object_type="checkout_session",
                    object_id=object_id,
                    data=data | {"id": str(object_id)},
                )
                ids.append(str(event.id))
            db.commit()
    return ids


@contextmanager
def worker(setup: Setup) -> Iterator[subprocess.Popen[bytes]]:
    env = os.environ | {"KASSA_DATABASE_URL": setup.url, "KASSA_DATA_DIR": str(setup.tmp), "KASSA_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "kassa", "worker"], env=env)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def wait_for(receiver: Receiver, ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not all(i in receiver.arrivals for i in ids):
        if time.monotonic() > deadline:
            missing = sum(1 for i in ids if i not in receiver.arrivals)
            raise RuntimeError(f"{missing} of {len(ids)} events never arrived")
        time.sleep(0.05)


def recorded(setup: Setup) -> int:
    with setup.database.read_sessions() as db:
        return db.scalar(select(func.count()).where(WebhookDelivery.state == "succeeded")) or 0


def throughput(setup: Setup, receiver: Receiver, events: int) -> str:
    ids = emit_events(setup, events)
    with worker(setup):
        wait_for(receiver, ids, timeout=600)
        deadline = time.monotonic() + 60
        while recorded(setup) < events and time.monotonic() < deadline:
            time.sleep(0.05)
    times = sorted(receiver.arrivals[i] for i in ids)
    rate = (len(times) - 1) / (times[-1] - times[0])
    return (
        f"throughput  {events} deliveries in {times[-1] - times[0]:5.2f} s: {rate:7.0f} deliveries/s per worker   "
        f"recorded {recorded(setup)}/{events}   requests {receiver.requests}"
    )


def latency(setup: Setup, receiver: Receiver, events: int, rate: float, *, embedded: bool) -> str:
    """Separate worker process (it polls), or a worker in this process (woken by the commit, as in `kassa serve`)."""
    committed: dict[str, float] = {}
    settings = load_settings({"KASSA_DATABASE_URL": setup.url, "KASSA_DATA_DIR": str(setup.tmp)})
    with webhook_delivery(settings, setup.database) if embedded else worker(setup):
        time.sleep(2)  # started and idle
        for _ in range(events):
            [event_id] = emit_events(setup, 1)
            committed[event_id] = time.perf_counter()
            time.sleep(1 / rate)
        wait_for(receiver, list(committed), timeout=60)
    delays = sorted((receiver.arrivals[i] - t) * 1000 for i, t in committed.items())

    def pct(p: float) -> float:
        return delays[min(len(delays) - 1, int(len(delays) * p))]

    where = "in-process worker " if embedded else "worker process    "
    return (
        f"latency     {where} commit → first attempt, {events} events at {rate:g}/s: p50 {pct(0.5):6.1f} ms   "
        f"p99 {pct(0.99):6.1f} ms   max {delays[-1]:6.1f} ms   mean {statistics.fmean(delays):6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--latency-events", type=int, default=500)
    parser.add_argument("--latency-rate", type=float, default=100.0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(
        f"one `kassa worker` process (default settings: 100 requests in flight, 25 per endpoint), {os.cpu_count()} CPUs"
    )
    for backend in args.backends.split(","):
        receiver = Receiver()
        receiver.start()
        with prepared(backend, receiver) as setup:
            print(f"{backend:<10} {throughput(setup, receiver, args.events)}", flush=True)
        for embedded in (False, True):
            receiver = Receiver()
            receiver.start()
            with prepared(backend, receiver) as setup:
                figures = latency(setup, receiver, args.latency_events, args.latency_rate, embedded=embedded)
                print(f"{backend:<10} {figures}", flush=True)


if __name__ == "__main__":
    main()

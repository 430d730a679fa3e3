"""Delivery workers on a database of their own: a worker process killed mid-delivery loses nothing, and two
workers never send the same delivery at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from kassa.auth.keys import Principal
from kassa.auth.organizations import create_organization
from kassa.config import Settings, load_settings
from kassa.db.engine import Database, make_database
from kassa.db.migrate import upgrade
from kassa.events.service import emit
from kassa.webhooks.config import DeliveryConfig
from kassa.webhooks.models import WebhookDelivery
from kassa.webhooks.schemas import WebhookEndpointCreate
from kassa.webhooks.service import create_endpoint
from kassa.webhooks.worker import DeliveryWorker
from support import Backend, fresh_database_url
from test_webhooks_delivery import Received, Receiver, Reply, wait_until


@dataclass
class Store:
    url: str
    settings: Settings
    database: Database
    principal: Principal


@pytest.fixture
def store(backend: Backend, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    url = fresh_database_url(backend, tmp_path, f"wh_{request.node.name[:20]}")
    upgrade(url)
    settings = load_settings({"KASSA_DATABASE_URL": url, "KASSA_DATA_DIR": str(tmp_path)})
    database = make_database(settings.database_url, pool_size=4)
    with database.write_sessions() as db:
        organization, _ = create_organization(db, settings.clock, "Workers", "test")
        db.commit()
    yield Store(url, settings, database, Principal.of(organization.id, "test"))
    database.dispose()


def add_endpoint(store: Store, url: str) -> None:
    body = WebhookEndpointCreate.model_validate(
        {"description": "workers", "url": url, "enabledEvents": {"events": ["*"]}}
    )
    with store.database.write_sessions() as db:
        create_endpoint(db, store.settings.clock, store.principal, body)
        db.commit()


def emit_events(store: Store, count: int) -> list[str]:
    ids = []
    with store.database.write_sessions() as db:
        for i in range(count):
            event = emit(
                db,
                store.settings.clock,
                organization_id=store.principal.organization_id,
                mode="test",
                type="checkout_session.completed",
                object_type="checkout_session",
                object_id=uuid.uuid4(),
                data={"n": i},
            )
            ids.append(str(event.id))
        db.commit()
    return ids


def delivery_states(store: Store) -> Counter[str]:
    with store.database.read_sessions() as db:
        return Counter(db.scalars(select(WebhookDelivery.state)))


def succeeded_events(store: Store) -> set[str]:
    with store.database.read_sessions() as db:
        rows = db.scalars(select(WebhookDelivery.event_id).where(WebhookDelivery.state == "succeeded"))
        return {str(event_id) for event_id in rows}


def start_worker(store: Store, config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "KASSA_DATABASE_URL": store.url,
        "KASSA_DATA_DIR": str(config.parent),
        "KASSA_CONFIG": str(config),
        "KASSA_LOG_LEVEL": "WARNING",
    }
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "kassa", "worker"], env=env, stdout=out, stderr=out)


def test_a_worker_killed_mid_delivery_loses_nothing(store: Store, tmp_path: Path) -> None:
    # A short lease so the restarted worker takes over the dead one's claims within seconds; a timeout long
    # enough that the held requests are still in flight (not failed and rescheduled a minute later) when the
    # worker is killed, even on a loaded machine.
    config = tmp_path / "kassa.toml"
    config.write_text("[webhooks]\ntimeout_seconds = 5\nlease_seconds = 11\n")
    log = tmp_path / "worker.log"
    gate = threading.Event()

    def respond(_request: Received, n: int) -> Reply:
        return Reply() if n <= 40 else Reply(hold=gate)  # the first 40 answered, then the worker is stuck

    with Receiver(respond) as receiver:
        add_endpoint(store, receiver.url)
        events = emit_events(store, 150)
        first = start_worker(store, config, log)
        try:
            wait_until(lambda: receiver.in_flight >= 5, "requests in flight at the receiver", timeout=30)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        sent_by_first = {r.event_id for r in receiver.received()}
        recorded_by_first = succeeded_events(store)
        gate.set()  # the held requests now answer a dead worker
        assert len(recorded_by_first) < len(sent_by_first)

        second = start_worker(store, config, log)
        try:
            wait_until(
                lambda: delivery_states(store) == Counter({"succeeded": len(events)}),
                f"every delivery to succeed ({log.read_text()[-2000:]})",
                timeout=60,
            )
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=20)
        received = Counter(r.event_id for r in receiver.received())

    assert set(received) == set(events)  # every event arrived at least once: none lost
    resent = {event_id for event_id, n in received.items() if n > 1}
    # Sent again: what the killed worker had in flight or had not yet recorded; never what it had recorded.
    assert resent
    assert resent <= sent_by_first - recorded_by_first
    assert second.returncode == 0  # SIGTERM: a clean stop


def test_two_workers_never_send_the_same_delivery_at_once(store: Store) -> None:
    lock = threading.Lock()
    active: Counter[str] = Counter()
    overlaps: list[str] = []

    def respond(request: Received, _n: int) -> Reply:
        with lock:
            active[request.event_id] += 1
            if active[request.event_id] > 1:
                overlaps.append(request.event_id)
        time.sleep(0.01)  # widen the window in which a double send would overlap
        with lock:
            active[request.event_id] -= 1
        return Reply()

    config = DeliveryConfig(concurrency=20, per_endpoint=20)
    workers = [DeliveryWorker(store.settings, make_database(store.url, pool_size=2), config) for _ in range(2)]
    with Receiver(respond) as receiver:
        add_endpoint(store, receiver.url)
        for worker in workers:
            worker.start()
        try:
            events = emit_events(store, 400)
            wait_until(lambda: delivery_states(store) == Counter({"succeeded": len(events)}), "every delivery")
        finally:
            for worker in workers:
                worker.stop()
                worker.database.dispose()
        received = Counter(r.event_id for r in receiver.received())

    assert overlaps == []
    assert received == Counter(dict.fromkeys(events, 1))  # each exactly once: no lease ran out
    assert all(worker.delivered > 0 for worker in workers)  # both took part
    assert sum(worker.delivered for worker in workers) == len(events)

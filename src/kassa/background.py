"""The background services of a process: the job runner with its sweeps, the dev chain and chain watchers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from kassa.api.idempotency import purge_expired as purge_idempotency_keys
from kassa.api.runtime import Runtime
from kassa.checkout.jobs import sweep_expired
from kassa.config import Settings
from kassa.db.engine import Database
from kassa.jobs.runner import JobRunner, Periodic
from kassa.payments.services import start_chain_services
from kassa.webhooks.retention import purge_old_events
from kassa.webhooks.worker import webhook_delivery

EXPIRY_SWEEP_SECONDS = 15.0
EVENT_PURGE_SECONDS = 3600.0
IDEMPOTENCY_PURGE_SECONDS = 3600.0


class Runner(JobRunner):
    """The job runner, with the webhook delivery worker started and stopped alongside it."""

    def run_until(self, stop: threading.Event) -> None:
        with webhook_delivery(self.settings, self.database):
            super().run_until(stop)


def make_runner(settings: Settings, database: Database) -> JobRunner:
    # Importing the job modules registers their kinds.
    import kassa.checkout.jobs  # noqa: F401

    periodic = [
        Periodic("expiry sweep", EXPIRY_SWEEP_SECONDS, sweep_expired),
        Periodic("event retention", EVENT_PURGE_SECONDS, purge_old_events),
        Periodic("idempotency key purge", IDEMPOTENCY_PURGE_SECONDS, purge_idempotency_keys),
    ]
    return Runner(settings, database, periodic=periodic)


@dataclass
class Background:
    settings: Settings
    database: Database
    runtime: Runtime | None = None
    threads: list[tuple[threading.Thread, threading.Event]] = field(default_factory=list)

    def start(self) -> None:
        self.threads.append(make_runner(self.settings, self.database).start_thread())
        if self.runtime is not None:
            watchers = self.settings.watchers is not False
            self.threads.extend(start_chain_services(self.runtime, watchers=watchers))

    def stop(self) -> None:
        for _, stop in self.threads:
            stop.set()
        for thread, _ in self.threads:
            thread.join(timeout=10)
        self.threads.clear()

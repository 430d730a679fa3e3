"""Runs due jobs until told to stop, plus periodic sweeps (the backstops of scheduled jobs)."""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from kassa.config import Settings
from kassa.db.engine import Database
from kassa.jobs.queue import REGISTRY, JobContext, Registry, RetryLater, claim_due, mark_done, mark_failed
from kassa.logs import get_logger

log = get_logger("kassa.jobs")
POLL_SECONDS = 0.2
BATCH = 20
LEASE = timedelta(minutes=2)


@dataclass
class Periodic:
    name: str
    every: float
    run: Callable[[Settings, Database], int]
    # Never run yet, so the first pass runs it (0.0 would not: the monotonic clock starts at boot, and a machine
    # up for less than `every` seconds would wait that long).
    last: float = field(default=-math.inf)


class JobRunner:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        registry: Registry = REGISTRY,
        periodic: list[Periodic] | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.registry = registry
        self.periodic = periodic or []

    def run_once(self) -> int:
        """Run the jobs that are due now; returns how many ran."""
        clock = self.settings.clock
        with self.database.write_sessions() as db:
            jobs = claim_due(db, clock, limit=BATCH, lease=LEASE)
            db.commit()
        for job in jobs:
            kind = self.registry.kinds.get(job.kind)
            with self.database.write_sessions() as db:
                try:
                    if kind is None:
                        raise LookupError(f"unknown job kind {job.kind}")
                    kind.handler(JobContext(self.settings, self.database, db, job), job.target_id)
                    mark_done(db, clock, job.id)
                    db.commit()
                except Exception as exc:
                    db.rollback()
                    if isinstance(exc, RetryLater):
                        log.debug("job retries later", job_id=str(job.id), kind=job.kind)
                    else:
                        log.warning("job failed", job_id=str(job.id), kind=job.kind, error=repr(exc))
                    mark_failed(db, clock, job, kind, "".join(traceback.format_exception(exc))[-2000:])
                    db.commit()
        return len(jobs)

    def run_periodic(self) -> None:
        now = time.monotonic()
        for task in self.periodic:
            if now - task.last >= task.every:
                task.last = now
                try:
                    task.run(self.settings, self.database)
                except Exception as exc:  # a failing sweep must not stop the runner
                    log.warning("periodic task failed", task=task.name, error=repr(exc))

    def run_until(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.run_periodic()
            try:
                ran = self.run_once()
            except Exception as exc:  # the database may be briefly unreachable: keep going
                log.warning("job runner error", error=repr(exc))
                ran = 0
            if ran == 0:
                stop.wait(POLL_SECONDS)

    def start_thread(self) -> tuple[threading.Thread, threading.Event]:
        stop = threading.Event()
        thread = threading.Thread(target=self.run_until, args=(stop,), daemon=True, name="kassa-jobs")
        thread.start()
        return thread, stop

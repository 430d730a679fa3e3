"""A job queue in the database: typed enqueueing in the caller's transaction; lease-based claiming.

A job kind is declared once with `JobKind(name, handler)`; code enqueues with the kind object, never a string.
Handlers take the job's target id, reload what they need, re-check its state, and must be safe to run twice:
a worker that dies after the handler committed but before the job was marked done leaves it to run again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kassa.clock import Clock
from kassa.config import Settings
from kassa.db.engine import Database
from kassa.jobs.models import Job


class RetryLater(Exception):  # not an error: the job is simply early
    """Raised by a handler whose work cannot be done yet; the job runs again after its backoff."""


@dataclass(frozen=True)
class JobContext:
    settings: Settings
    database: Database
    db: Session
    job: Job

    @property
    def clock(self) -> Clock:
        return self.settings.clock


Handler = Callable[[JobContext, uuid.UUID], None]


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Handler
    max_attempts: int = 25
    # Retry delays: the n-th failure waits backoff[min(n, len) - 1].
    backoff: tuple[timedelta, ...] = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=5))
    # Handlers that own their transaction (slow work, such as network calls) run outside the job's session.
    lease: timedelta = timedelta(minutes=2)


@dataclass
class Registry:
    kinds: dict[str, JobKind] = field(default_factory=dict)

    def register(self, kind: JobKind) -> JobKind:
        existing = self.kinds.get(kind.name)
        if existing is not None and existing is not kind:
            raise ValueError(f"job kind {kind.name} registered twice")
        self.kinds[kind.name] = kind
        return kind


REGISTRY = Registry()


def job_kind(name: str, **options: Any) -> Callable[[Handler], JobKind]:
    """Declare a job kind: `@job_kind("checkout.expire") def expire(ctx, session_id): ...`."""

    def decorate(handler: Handler) -> JobKind:
        return REGISTRY.register(JobKind(name=name, handler=handler, **options))

    return decorate


def enqueue(
    db: Session,
    clock: Clock,
    kind: JobKind,
    target_id: uuid.UUID,
    *,
    run_at: datetime | None = None,
    payload: dict[str, Any] | None = None,
) -> Job:
    now = clock.now()
    job = Job(
        kind=kind.name,
        target_id=target_id,
        payload=payload,
        state="pending",
        run_at=run_at or now,
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    db.add(job)
    db.flush()
    return job


def claim_due(db: Session, clock: Clock, *, limit: int, lease: timedelta) -> list[Job]:
    """Lease up to `limit` due jobs to this worker; the caller commits at once."""
    now = clock.now()
    due = (
        select(Job.id)
        .where(Job.state == "pending", Job.run_at <= now, or_(Job.locked_until.is_(None), Job.locked_until < now))
        .order_by(Job.run_at)
        .limit(limit)
    )
    if db.get_bind().dialect.name == "postgresql":
        # Several workers: each takes rows the others have not locked, without waiting for them.
        due = due.with_for_update(skip_locked=True)
    ids = list(db.scalars(due))
    if not ids:
        return []
    db.execute(
        update(Job)
        .where(Job.id.in_(ids))
        .values(locked_until=now + lease, attempts=Job.attempts + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return list(db.scalars(select(Job).where(Job.id.in_(ids)).order_by(Job.run_at)))


def mark_done(db: Session, clock: Clock, job_id: uuid.UUID) -> None:
    now = clock.now()
    db.execute(
        update(Job).where(Job.id == job_id).values(state="done", locked_until=None, updated_at=now, last_error=None)
    )


def mark_failed(db: Session, clock: Clock, job: Job, kind: JobKind | None, error: str) -> None:
    now = clock.now()
    attempts = job.attempts
    if kind is None or attempts >= kind.max_attempts:
        values: dict[str, Any] = {"state": "failed", "locked_until": None}
    else:
        delay = kind.backoff[min(attempts, len(kind.backoff)) - 1]
        values = {"run_at": now + delay, "locked_until": None}
    db.execute(update(Job).where(Job.id == job.id).values(last_error=error[:2000], updated_at=now, **values))

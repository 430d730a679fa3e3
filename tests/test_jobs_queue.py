"""The job queue's failure handling on both databases: backoff between attempts, giving up at `max_attempts`,
one transaction per attempt, and a claim whose worker died. Time is a frozen clock moved by hand."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from kassa.clock import FrozenClock
from kassa.config import Settings, load_settings
from kassa.db.engine import Database, make_database
from kassa.db.migrate import upgrade
from kassa.jobs.models import Job
from kassa.jobs.queue import Handler, JobContext, JobKind, Registry, RetryLater, claim_due, enqueue
from kassa.jobs.runner import LEASE, JobRunner
from support import Backend, fresh_database_url

START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)  # the columns' precision


@pytest.fixture(scope="module")
def database(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A database of the queue's own: the shared test server runs a job runner that would take these jobs."""
    url = fresh_database_url(backend, tmp_path_factory.mktemp(f"jobs-{backend}"), "jobs")
    upgrade(url)
    database = make_database(url, pool_size=2)
    yield database
    database.dispose()


@dataclass
class Queue:
    database: Database
    settings: Settings
    clock: FrozenClock
    registry: Registry = field(default_factory=Registry)

    def runner(self) -> JobRunner:
        return JobRunner(self.settings, self.database, self.registry)

    def enqueue(self, kind: JobKind) -> uuid.UUID:
        with self.database.write_sessions() as db:
            job_id = enqueue(db, self.clock, kind, uuid.uuid4()).id
            db.commit()
        return job_id

    def job(self, job_id: uuid.UUID) -> Job:
        with self.database.read_sessions() as db:
            job = db.get(Job, job_id)
            assert job is not None
            return job

    def count(self) -> int:
        with self.database.read_sessions() as db:
            return int(db.scalar(select(func.count()).select_from(Job)) or 0)


@pytest.fixture
def queue(database: Database, tmp_path: Path) -> Queue:
    with database.write_sessions() as db:
        db.execute(delete(Job))  # each test starts with an empty queue
        db.commit()
    clock = FrozenClock(START)
    settings = load_settings(
        {"KASSA_DATA_DIR": str(tmp_path), "KASSA_DATABASE_URL": database.engine.url.render_as_string(False)},
        clock=clock,
    )
    return Queue(database, settings, clock)


def failing(calls: list[int]) -> Handler:
    def handler(ctx: JobContext, target_id: uuid.UUID) -> None:
        calls.append(ctx.job.attempts)
        raise RuntimeError(f"boom #{len(calls)}")

    return handler


def test_failing_job_backs_off_between_attempts_and_is_given_up_at_max_attempts(queue: Queue) -> None:
    calls: list[int] = []
    kind = queue.registry.register(
        JobKind("test.fails", failing(calls), max_attempts=4, backoff=(timedelta(seconds=5), timedelta(seconds=30)))
    )
    job_id = queue.enqueue(kind)
    runner = queue.runner()

    assert runner.run_once() == 1
    job = queue.job(job_id)
    assert (job.state, job.attempts, job.run_at, job.locked_until) == ("pending", 1, START + timedelta(seconds=5), None)
    assert "RuntimeError: boom #1" in (job.last_error or "")
    # Each wait is the backoff of that failure, the last one repeated: 5 s, 30 s, 30 s.
    for attempt, wait in ((2, timedelta(seconds=5)), (3, timedelta(seconds=30)), (4, timedelta(seconds=30))):
        queue.clock.advance(wait - MS)
        assert runner.run_once() == 0, f"attempt {attempt} ran early"
        queue.clock.advance(MS)
        assert runner.run_once() == 1
        assert len(calls) == attempt
    job = queue.job(job_id)
    assert (job.state, job.attempts, job.locked_until) == ("failed", 4, None)
    assert "boom #4" in (job.last_error or "")
    assert calls == [1, 2, 3, 4]  # the handler sees the attempt number

    queue.clock.advance(timedelta(days=30))
    assert runner.run_once() == 0  # given up: never runs again
    assert len(calls) == 4


def test_attempt_is_one_transaction_and_success_after_a_failure_clears_the_error(queue: Queue) -> None:
    later = queue.registry.register(JobKind("test.later", failing([])))
    calls: list[int] = []

    def flaky(ctx: JobContext, target_id: uuid.UUID) -> None:
        calls.append(ctx.job.attempts)
        enqueue(ctx.db, ctx.clock, later, target_id, run_at=ctx.clock.now() + timedelta(days=365))
        if len(calls) == 1:
            raise ValueError("the first attempt fails after writing")

    kind = queue.registry.register(JobKind("test.flaky", flaky, backoff=(timedelta(seconds=5),)))
    job_id = queue.enqueue(kind)
    runner = queue.runner()

    assert runner.run_once() == 1
    assert queue.count() == 1  # what the failed attempt wrote was rolled back with it
    queue.clock.advance(timedelta(seconds=5))
    assert runner.run_once() == 1
    job = queue.job(job_id)
    assert (job.state, job.attempts, job.last_error, job.locked_until) == ("done", 2, None, None)
    assert queue.count() == 2  # the successful attempt's write committed with it
    queue.clock.advance(timedelta(days=1))
    assert runner.run_once() == 0
    assert calls == [1, 2]


def test_retry_later_takes_the_same_backoff_and_attempt_budget(queue: Queue) -> None:
    calls: list[int] = []

    def early(ctx: JobContext, target_id: uuid.UUID) -> None:
        calls.append(ctx.job.attempts)
        raise RetryLater

    kind = queue.registry.register(JobKind("test.early", early, max_attempts=2, backoff=(timedelta(minutes=1),)))
    job_id = queue.enqueue(kind)
    runner = queue.runner()
    assert runner.run_once() == 1
    assert queue.job(job_id).run_at == START + timedelta(minutes=1)
    queue.clock.advance(timedelta(minutes=1))
    assert runner.run_once() == 1
    assert (queue.job(job_id).state, calls) == ("failed", [1, 2])


def test_job_of_an_unknown_kind_fails_at_once(queue: Queue) -> None:
    unregistered = JobKind("test.nobody-handles-this", failing([]))
    job_id = queue.enqueue(unregistered)
    assert queue.runner().run_once() == 1
    job = queue.job(job_id)
    assert (job.state, job.attempts) == ("failed", 1)
    assert "unknown job kind test.nobody-handles-this" in (job.last_error or "")


def test_job_claimed_by_a_worker_that_died_runs_again_after_the_lease(queue: Queue) -> None:
    calls: list[int] = []
    kind = queue.registry.register(JobKind("test.once", lambda ctx, target_id: calls.append(ctx.job.attempts)))
    job_id = queue.enqueue(kind)
    with queue.database.write_sessions() as db:  # a worker claims it, commits the claim, and dies
        [claimed] = claim_due(db, queue.clock, limit=10, lease=LEASE)
        db.commit()
    assert claimed.id == job_id
    runner = queue.runner()
    queue.clock.advance(LEASE - MS)
    assert runner.run_once() == 0  # still leased to the dead worker
    queue.clock.advance(2 * MS)
    assert runner.run_once() == 1
    job = queue.job(job_id)
    assert (job.state, job.attempts) == ("done", 2)  # the lost claim counts as an attempt
    assert calls == [2]

"""The delivery worker: an asyncio loop in a thread of `kassa serve` / `kassa worker`.

It claims due deliveries in batches (as many as it has free request slots, at most `per_endpoint` in flight per
endpoint), POSTs each one concurrently with a total timeout, and hands the outcomes to a writer that records
them in batches. Database work runs on one helper thread, so the loop only ever waits on the network. A slow
endpoint holds at most its own slots for at most the timeout; other endpoints keep their share.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from typing import TypeVar

from kassa.config import Settings
from kassa.db.engine import Database
from kassa.logs import get_logger
from kassa.webhooks import wake
from kassa.webhooks.claims import Claim, claim_due
from kassa.webhooks.config import DeliveryConfig
from kassa.webhooks.http import HttpClient
from kassa.webhooks.outcomes import Outcome, record_outcomes
from kassa.webhooks.signing import signature_headers

log = get_logger("kassa.webhooks")
T = TypeVar("T")
# After a wake-up, gather a few more completions or commits before claiming: fewer, fuller claims.
SETTLE_SECONDS = 0.002
WRITE_BATCH = 500
WRITE_RETRY_SECONDS = 1.0


class DeliveryWorker:
    def __init__(self, settings: Settings, database: Database, config: DeliveryConfig | None = None) -> None:
        self.settings = settings
        self.database = database
        self.config = config or DeliveryConfig.from_settings(settings)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._kick: asyncio.Event | None = None
        self._stopping = False
        self._ready = threading.Event()
        self._busy: Counter[uuid.UUID] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._results: asyncio.Queue[Outcome | None] | None = None
        self.delivered = 0  # attempts made, for the curious (bench, tests)

    # --- lifecycle, from other threads -------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="kassa-webhooks")
        self._thread.start()
        self._ready.wait(timeout=10)
        wake.subscribe(self.wake)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop claiming, let requests in flight finish (each within the timeout), record them, and exit."""
        wake.unsubscribe(self.wake)
        self._stopping = True
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def wake(self) -> None:
        loop, kick = self._loop, self._kick
        if loop is not None and kick is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(kick.set)

    # --- the loop ----------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # never take the process down
            log.error("webhook delivery worker stopped", error=repr(exc))
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._kick = asyncio.Event()
        self._results = asyncio.Queue()
        client = HttpClient()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kassa-webhooks-db") as executor:
            writer = asyncio.create_task(self._write_loop(executor))
            self._ready.set()
            try:
                await self._claim_loop(executor, client)
                if self._tasks:
                    await asyncio.wait(set(self._tasks), timeout=self.config.timeout_seconds + 1)
            finally:
                unfinished = list(self._tasks)
                for task in unfinished:
                    task.cancel()  # not recorded: their leases run out and they are sent again
                await asyncio.gather(*unfinished, return_exceptions=True)
                self._stopping = True
                self._results.put_nowait(None)  # tells the writer to finish
                await writer
                await client.aclose()

    async def _claim_loop(self, executor: ThreadPoolExecutor, client: HttpClient) -> None:
        assert self._kick is not None
        while not self._stopping:
            self._kick.clear()
            free = self.config.concurrency - len(self._tasks)
            claims: list[Claim] = []
            if free > 0:
                busy = {endpoint_id: n for endpoint_id, n in self._busy.items() if n > 0}
                try:
                    claims = await self._in_db(executor, self._claim, free, busy)
                except Exception as exc:  # the database may be briefly unreachable: keep going
                    log.warning("claiming webhook deliveries failed", error=repr(exc))
            for claim in claims:
                self._busy[claim.endpoint_id] += 1
                task = asyncio.create_task(self._deliver(client, claim))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if claims and len(claims) == free:
                continue  # maybe more are due; the slots are full, so the next claim waits for one to free
            try:
                await asyncio.wait_for(self._kick.wait(), timeout=self.config.poll_seconds)
                await asyncio.sleep(SETTLE_SECONDS)
            except TimeoutError:
                pass

    def _claim(self, free: int, busy: dict[uuid.UUID, int]) -> list[Claim]:
        with self.database.write_sessions() as db:
            claims = claim_due(
                db,
                self.settings.clock,
                limit=free,
                per_endpoint=self.config.per_endpoint,
                busy=busy,
                lease=timedelta(seconds=self.config.lease_seconds),
            )
            db.commit()
        return claims

    async def _deliver(self, client: HttpClient, claim: Claim) -> None:
        try:
            outcome = await self.send(client, claim)
            assert self._results is not None
            self._results.put_nowait(outcome)
        finally:
            self._busy[claim.endpoint_id] -= 1
            if self._busy[claim.endpoint_id] <= 0:
                del self._busy[claim.endpoint_id]
            if self._kick is not None:
                self._kick.set()

    async def send(self, client: HttpClient, claim: Claim) -> Outcome:
        clock = self.settings.clock
        attempted_at = clock.now()
        headers = signature_headers(str(claim.event_id), int(attempted_at.timestamp()), claim.body, claim.secrets)
        headers["x-webhook-token"] = str(claim.endpoint_id)  # names the endpoint; never the secret
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(client.post(claim.url, claim.body, headers), self.config.timeout_seconds)
        except TimeoutError:
            timed_out = f"no response within {self.config.timeout_seconds:g} s"
            return Outcome(claim, attempted_at, _elapsed_ms(started), error=timed_out)
        except Exception as exc:
            return Outcome(claim, attempted_at, _elapsed_ms(started), error=_describe(exc))
        finally:
            self.delivered += 1
        error = result.body_error
        if result.truncated:
            error = f"response body longer than {client.max_response_bytes} bytes: the rest was not read"
        return Outcome(claim, attempted_at, _elapsed_ms(started), result.status_code, result.head, error)

    async def _write_loop(self, executor: ThreadPoolExecutor) -> None:
        assert self._results is not None
        stop = False
        while not stop:
            batch = [await self._results.get()]
            while len(batch) < WRITE_BATCH and not self._results.empty():
                batch.append(self._results.get_nowait())
            stop = None in batch
            outcomes = [o for o in batch if o is not None]
            while outcomes:
                try:
                    await self._in_db(executor, self._record, outcomes)
                    break
                except Exception as exc:
                    log.warning("recording webhook outcomes failed", error=repr(exc), count=len(outcomes))
                    if stop:
                        break  # shutting down: the leases will run out and the deliveries be retried
                    await asyncio.sleep(WRITE_RETRY_SECONDS)

    def _record(self, outcomes: list[Outcome]) -> None:
        with self.database.write_sessions() as db:
            record_outcomes(db, self.settings.clock, outcomes)
            db.commit()

    async def _in_db(self, executor: ThreadPoolExecutor, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


@contextmanager
def webhook_delivery(settings: Settings, database: Database) -> Iterator[DeliveryWorker]:
    """Run a delivery worker for the duration of the block."""
    worker = DeliveryWorker(settings, database)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()

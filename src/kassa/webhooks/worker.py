"""The delivery worker: an asyncio loop in a thread of `kassa serve` / `kassa worker`.

It claims due deliveries in batches and sends them concurrently, each within the total timeout, with at most
`concurrency` requests in flight and at most `per_endpoint` to any one endpoint. It claims ahead: up to twice
those numbers are held, so the next requests are ready when a slot frees, and a claim (a database round trip)
never sits between two requests. Outcomes go to a writer that records them in batches. Database work runs on
two helper threads (claims, outcomes), so the loop only ever waits on the network.

A slow endpoint holds its own slots for at most the timeout; the other endpoints keep theirs. A claimed delivery
waits at most about one timeout for a slot, well inside the lease (which must exceed twice the timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
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
from kassa.webhooks.claims import Claim, any_due, claim_due
from kassa.webhooks.config import DeliveryConfig
from kassa.webhooks.http import HttpClient
from kassa.webhooks.outcomes import Outcome, record_outcomes
from kassa.webhooks.signing import signature_headers

log = get_logger("kassa.webhooks")
T = TypeVar("T")
# After a wake-up, let a few more commits or completions arrive before claiming: fewer, fuller claims.
SETTLE_SECONDS = 0.002
WRITE_BATCH = 500
RETRY_SECONDS = 1.0


class DeliveryWorker:
    def __init__(self, settings: Settings, database: Database, config: DeliveryConfig | None = None) -> None:
        self.settings = settings
        self.database = database
        self.config = config or DeliveryConfig.from_settings(settings)
        self.delivered = 0  # attempts made (for benchmarks and tests)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._kick: asyncio.Event | None = None
        # Claimed and not yet recorded, per endpoint; with a slot semaphore per endpoint that has any.
        self._held: Counter[uuid.UUID] = Counter()
        self._endpoint_slots: dict[uuid.UUID, asyncio.Semaphore] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def _hold_limit(self) -> int:
        return 2 * self.config.concurrency

    @property
    def _hold_per_endpoint(self) -> int:
        return 2 * self.config.per_endpoint

    # --- lifecycle, called from other threads -----------------------------------------------------------

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

    # --- the loop ---------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # never take the process down with it
            log.error("webhook delivery worker stopped", error=repr(exc))
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._kick = asyncio.Event()
        results: asyncio.Queue[Outcome | None] = asyncio.Queue()
        slots = asyncio.Semaphore(self.config.concurrency)
        client = HttpClient()
        claims_db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kassa-webhooks-claims")
        outcomes_db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kassa-webhooks-outcomes")
        writer = asyncio.create_task(self._write_loop(outcomes_db, results))
        self._ready.set()
        try:
            await self._claim_loop(claims_db, client, slots, results)
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=self.config.timeout_seconds + 1)
        finally:
            unfinished = list(self._tasks)
            for task in unfinished:
                task.cancel()  # not recorded: their leases run out and they are sent again
            await asyncio.gather(*unfinished, return_exceptions=True)
            results.put_nowait(None)  # tells the writer to finish
            await writer
            await client.aclose()
            claims_db.shutdown()
            outcomes_db.shutdown()

    async def _claim_loop(
        self,
        executor: ThreadPoolExecutor,
        client: HttpClient,
        slots: asyncio.Semaphore,
        results: asyncio.Queue[Outcome | None],
    ) -> None:
        assert self._kick is not None
        while not self._stopping:
            self._kick.clear()
            room = self._hold_limit - sum(self._held.values())
            claims: list[Claim] = []
            if room > 0:
                try:
                    claims = await _in_thread(executor, self._claim, room, dict(self._held))
                except Exception as exc:  # the database may be briefly unreachable: keep going
                    log.warning("claiming webhook deliveries failed", error=repr(exc))
            for claim in claims:
                self._held[claim.endpoint_id] += 1
                task = asyncio.create_task(self._deliver(client, claim, slots, results))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if claims and len(claims) == room:
                continue  # maybe more are due; with no room left, the next pass waits for some
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=self.config.poll_seconds)
                await asyncio.sleep(SETTLE_SECONDS)

    def _claim(self, room: int, held: dict[uuid.UUID, int]) -> list[Claim]:
        per_endpoint = self._hold_per_endpoint
        with self.database.read_sessions() as db:
            if not any_due(db, self.settings.clock, per_endpoint=per_endpoint, busy=held):
                return []
        with self.database.write_sessions() as db:
            claims = claim_due(
                db,
                self.settings.clock,
                limit=room,
                per_endpoint=per_endpoint,
                busy=held,
                lease=timedelta(seconds=self.config.lease_seconds),
            )
            db.commit()
        return claims

    async def _deliver(
        self, client: HttpClient, claim: Claim, slots: asyncio.Semaphore, results: asyncio.Queue[Outcome | None]
    ) -> None:
        endpoint_slots = self._endpoint_slots.get(claim.endpoint_id)
        if endpoint_slots is None:
            endpoint_slots = self._endpoint_slots[claim.endpoint_id] = asyncio.Semaphore(self.config.per_endpoint)
        try:
            # The endpoint's slot first: a delivery waiting for its endpoint must not hold a global slot.
            async with endpoint_slots, slots:
                outcome = await self.send(client, claim)
            results.put_nowait(outcome)
        finally:
            self._held[claim.endpoint_id] -= 1
            left = self._held[claim.endpoint_id]
            if left <= 0:
                del self._held[claim.endpoint_id]
                self._endpoint_slots.pop(claim.endpoint_id, None)
            # Claim again when this endpoint's queue has drained to what it may have in flight, or it is empty.
            if self._kick is not None and left in (self.config.per_endpoint, 0):
                self._kick.set()

    async def send(self, client: HttpClient, claim: Claim) -> Outcome:
        attempted_at = self.settings.clock.now()
        body = json.dumps(claim.envelope, separators=(",", ":"), ensure_ascii=False).encode()
        headers = signature_headers(str(claim.event_id), int(attempted_at.timestamp()), body, claim.secrets)
        headers["x-webhook-token"] = str(claim.endpoint_id)  # names the endpoint; never the secret
        started = time.perf_counter()
        try:
            # Live mode: every address of the host must be public, and the request goes to a checked one.
            posting = client.post(claim.url, body, headers, public_only=claim.live)
            result = await asyncio.wait_for(posting, self.config.timeout_seconds)
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

    async def _write_loop(self, executor: ThreadPoolExecutor, results: asyncio.Queue[Outcome | None]) -> None:
        stop = False
        while not stop:
            batch = [await results.get()]
            while len(batch) < WRITE_BATCH and not results.empty():
                batch.append(results.get_nowait())
            stop = None in batch
            outcomes = [o for o in batch if o is not None]
            while outcomes:
                try:
                    await _in_thread(executor, self._record, outcomes)
                    break
                except Exception as exc:
                    log.warning("recording webhook outcomes failed", error=repr(exc), count=len(outcomes))
                    if stop:
                        break  # shutting down: the leases run out and these deliveries are sent again
                    await asyncio.sleep(RETRY_SECONDS)

    def _record(self, outcomes: list[Outcome]) -> None:
        with self.database.write_sessions() as db:
            record_outcomes(db, self.settings.clock, outcomes)
            db.commit()


async def _in_thread(executor: ThreadPoolExecutor, fn: Callable[..., T], *args: object) -> T:
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

"""The background worker process (`kassa worker`)."""

from __future__ import annotations

import signal
import threading

from kassa.background import make_runner
from kassa.config import Settings
from kassa.db.engine import make_database
from kassa.logs import get_logger

log = get_logger("kassa.worker")


def run_worker(settings: Settings) -> None:
    database = make_database(settings.database_url, pool_size=4)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    runner = make_runner(settings, database)
    log.info("worker started")
    try:
        runner.run_until(stop)
    finally:
        database.dispose()
        log.info("worker stopped")

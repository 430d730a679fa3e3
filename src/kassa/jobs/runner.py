"""Runs due jobs until told to stop."""

from __future__ import annotations

import threading

from kassa.config import Settings
from kassa.db.engine import Database

POLL_SECONDS = 0.5


class JobRunner:
    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database

    def run_once(self) -> int:
        """Run the jobs that are due; returns how many ran. No job kinds exist yet."""
        return 0

    def run_until(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.run_once() == 0:
                stop.wait(POLL_SECONDS)

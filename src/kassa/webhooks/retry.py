"""When to try a failed delivery again: about 1 min, 5 min, 30 min, 2 h, 5 h, 10 h, then every 12 h, each
±10 % so retries to one receiver spread out, until 3 days after the first attempt (the last try is made at
that mark)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
)
LATER_DELAY = timedelta(hours=12)
RETRY_WINDOW = timedelta(days=3)
# An endpoint whose attempts have all failed for this long is disabled.
DISABLE_AFTER = timedelta(days=3)
JITTER = 0.1

_random = random.Random()  # noqa: S311  # jitter, not cryptography


def retry_delay(failed_attempts: int, rng: random.Random = _random) -> timedelta:
    """The wait after the `failed_attempts`-th failure (1-based), with jitter."""
    base = RETRY_DELAYS[failed_attempts - 1] if failed_attempts <= len(RETRY_DELAYS) else LATER_DELAY
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


def next_attempt_at(
    first_attempt_at: datetime, attempted_at: datetime, failed_attempts: int, rng: random.Random = _random
) -> datetime | None:
    """The next try after a failure at `attempted_at`, or None once the retry window is spent."""
    deadline = first_attempt_at + RETRY_WINDOW
    if attempted_at >= deadline:
        return None
    return min(attempted_at + retry_delay(failed_attempts, rng), deadline)

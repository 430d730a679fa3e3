"""Token buckets keyed by caller: the per-API-key limit of the API and the dev chain faucet's limit.

A bucket holds at most `burst` tokens and refills at `rate` tokens per second; a request takes one token or is
refused with the seconds until one is back (the `Retry-After` of a 429). Buckets live in this process's memory:
with N API processes behind a load balancer a key gets N times the rate, which a limit meant to stop a runaway
client (not to meter a plan) can afford. Memory is bounded: past `max_keys` the least recently seen key is
forgotten, and a forgotten key starts again with a full bucket, which only ever errs on the generous side.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._now = now
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take one token for `key`: 0.0 when granted, else the seconds to wait until one is back (> 0)."""
        with self._lock:
            now = self._now()
            bucket = self._buckets.pop(key, None)
            if bucket is None:
                bucket = _Bucket(tokens=float(self.burst), updated=now)
            else:
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
                bucket.updated = now
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate


def retry_after_header(wait_seconds: float) -> str:
    """Retry-After takes whole seconds; round up so a client that obeys it is not refused again."""
    return str(max(1, math.ceil(wait_seconds)))

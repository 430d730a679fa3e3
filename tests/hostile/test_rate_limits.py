"""Point 11, first half: a token bucket per API key, 429 with Retry-After in the Copperx error shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kassa.ratelimit import TokenBuckets, retry_after_header
from support import Backend, LiveServer, fresh_database_url, merchant, start_server


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_grants_its_burst_then_refills_at_its_rate() -> None:
    clock = FakeTime()
    buckets = TokenBuckets(rate=2.0, burst=3, now=clock)
    assert [buckets.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k") == pytest.approx(0.5)  # one token comes back every 0.5 s
    clock.now += 0.5
    assert buckets.take("k") == 0.0
    assert buckets.take("k") == pytest.approx(0.5)
    clock.now += 100  # refills up to the burst, not beyond
    assert [buckets.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k") > 0


def test_buckets_are_per_key() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, now=FakeTime())
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    assert buckets.take("b") == 0.0


def test_memory_is_bounded_by_forgetting_the_least_recently_seen_key() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, max_keys=2, now=FakeTime())
    buckets.take("a")
    buckets.take("b")
    buckets.take("c")  # "a" is forgotten, and starts again full
    assert buckets.take("a") == 0.0
    assert buckets.take("c") > 0


@pytest.mark.parametrize(("wait", "header"), [(0.001, "1"), (1.0, "1"), (1.01, "2"), (59.5, "60")])
def test_retry_after_rounds_up_to_whole_seconds(wait: float, header: str) -> None:
    assert retry_after_header(wait) == header


def test_a_bucket_needs_a_positive_rate_and_burst() -> None:
    with pytest.raises(ValueError, match="positive rate"):
        TokenBuckets(rate=0, burst=1)
    with pytest.raises(ValueError, match="positive rate"):
        TokenBuckets(rate=1, burst=0)


@pytest.fixture
def tight(backend: Backend, tmp_path: Path) -> Iterator[LiveServer]:
    """A server whose keys get 3 requests at once and one more every 1,000 s: the 4th request is refused."""
    server = start_server(
        backend,
        fresh_database_url(backend, tmp_path, "ratelimit"),
        data_dir=tmp_path,
        api_rate_limit=0.001,
        api_rate_burst=3,
    )
    yield server
    server.stop()


def test_a_key_over_its_rate_gets_429_with_retry_after(tight: LiveServer) -> None:
    with merchant(tight) as shop, merchant(tight, name="Other") as other:
        for _ in range(3):
            assert shop.http.get("/api/v1/customers").status_code == 200
        resp = shop.http.post("/api/v1/customers", json={"email": "ada@example.com"})
        assert resp.status_code == 429
        assert resp.json() == {
            "message": "Too many requests for this API key: slow down and retry after the Retry-After seconds",
            "statusCode": 429,
            "error": "Too Many Requests",
        }
        assert 900 <= int(resp.headers["retry-after"]) <= 1000
        # The refused request did nothing, and another organization's key has its own bucket.
        assert other.http.get("/api/v1/customers").status_code == 200
        assert other.http.get("/api/v1/customers").json()["count"] == 0


def test_the_limit_can_be_turned_off(backend: Backend, tmp_path: Path) -> None:
    server = start_server(
        backend,
        fresh_database_url(backend, tmp_path, "nolimit"),
        data_dir=tmp_path,
        api_rate_limit=0.0,
        api_rate_burst=1,
    )
    try:
        assert server.runtime.api_rate_limit is None
        with merchant(server) as shop:
            assert all(shop.http.get("/api/v1/organization").status_code == 200 for _ in range(5))
    finally:
        server.stop()


def test_the_default_is_at_least_stripes_100_per_second(live: LiveServer) -> None:
    limit = live.runtime.api_rate_limit
    assert limit is not None
    assert limit.rate >= 100
    assert limit.burst >= 100

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import Backend, LiveServer, Merchant, fresh_database_url, merchant, start_server

BACKENDS: list[Backend] = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    value: Backend = request.param
    return value


@pytest.fixture(scope="session")
def live(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per backend, on a database built by the migrations; tests isolate by organization."""
    tmp: Path = tmp_path_factory.mktemp(f"live-{backend}")
    server = start_server(backend, fresh_database_url(backend, tmp, "live"), data_dir=tmp)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _live_clock_put_back(request: pytest.FixtureRequest) -> Iterator[None]:
    """The shared server's clock is where each test found it afterwards: a test that moves it and forgets to move
    it back would otherwise leave Kassa's time hours from the dev chain's for every later test."""
    if "live" not in request.fixturenames:
        yield
        return
    live: LiveServer = request.getfixturevalue("live")
    offset = live.clock.offset
    yield
    live.clock.set_offset(offset)


@pytest.fixture
def shop(live: LiveServer) -> Iterator[Merchant]:
    with merchant(live) as m:
        yield m


@pytest.fixture
def other_shop(live: LiveServer) -> Iterator[Merchant]:
    with merchant(live, name="Other Shop") as m:
        yield m


def pytest_configure(config: pytest.Config) -> None:
    from kassa.logs import configure_logging

    configure_logging("WARNING")

"""Test infrastructure: real databases built by the migrations, and a real HTTP server on loopback."""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
import psycopg
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url

from kassa.api.runtime import Runtime
from kassa.app import create_app
from kassa.auth.keys import Mode
from kassa.auth.organizations import create_organization
from kassa.chains.devnet import DevChain
from kassa.config import Settings, load_settings
from kassa.db.engine import Database, make_database
from kassa.db.migrate import upgrade

Backend = Literal["sqlite", "postgresql"]
LOCAL_CHAIN_ID = 31337
# A local testnet that checkout sessions may name; nothing in these tests talks to its RPC URL.
TEST_CHAINS: dict[str, Any] = {
    "chains": [
        {
            "id": LOCAL_CHAIN_ID,
            "name": "Local",
            "testnet": True,
            "rpc_url": "http://127.0.0.1:9",
            "confirmations": 2,
            "assets": [{"currency": "usdc", "address": "0x" + "11" * 20, "decimals": 6}],
        }
    ]
}
POSTGRES_URL = os.environ.get("KASSA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


class TestClock:
    """Real time plus an offset tests can move, so a shared server still behaves like a live one."""

    __test__ = False

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset

    def set_offset(self, offset: timedelta) -> None:
        with self._lock:
            self._offset = offset


def worker_suffix() -> str:
    # The process id keeps concurrent test runs on one PostgreSQL server out of each other's databases.
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


_created_databases: list[str] = []


def _drop_created_databases() -> None:
    base = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    with contextlib.suppress(psycopg.Error), psycopg.connect(base, autocommit=True) as conn:
        for name in _created_databases:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


atexit.register(_drop_created_databases)


def fresh_database_url(backend: Backend, tmp_dir: Path, name: str) -> str:
    """A new, empty database: a file for SQLite, a freshly created database on the PostgreSQL server."""
    if backend == "sqlite":
        return f"sqlite:///{(tmp_dir / f'{name}.db').as_posix()}"
    db_name = f"kassa_{name}_{worker_suffix()}".lower()
    base = make_url(POSTGRES_URL)
    with psycopg.connect(
        base.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')
    _created_databases.append(db_name)
    return base.set(drivername="postgresql+psycopg", database=db_name).render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    base_url: str
    settings: Settings
    database: Database
    clock: TestClock
    backend: Backend
    server: uvicorn.Server
    thread: threading.Thread
    app: FastAPI

    def client(self, api_key: str | None = None, **headers: str) -> httpx.Client:
        all_headers = dict(headers)
        if api_key:
            all_headers["Authorization"] = f"Bearer {api_key}"
        return httpx.Client(base_url=self.base_url, headers=all_headers, timeout=30)

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def devnet(self) -> DevChain:
        assert self.runtime.devnet is not None, "this server runs no dev chain"
        return self.runtime.devnet

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.database.dispose()


def start_server(backend: Backend, database_url: str, *, data_dir: Path, **overrides: Any) -> LiveServer:
    """Embedded mode with the dev chain on (the tests pay on it; `devnet=False` for a server without)."""
    upgrade(database_url)
    port = free_port()
    clock = TestClock()
    settings = load_settings(
        {"KASSA_DATA_DIR": str(data_dir), "KASSA_DATABASE_URL": database_url, "KASSA_LOG_LEVEL": "WARNING"},
        port=port,
        clock=clock,
    ).with_overrides(**({"file_config": TEST_CHAINS, "devnet": True, "devnet_block_seconds": 0.5} | overrides))
    database = make_database(settings.database_url)
    app = create_app(settings, database, embedded=True)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name=f"uvicorn-{backend}")
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    return LiveServer(f"http://127.0.0.1:{port}", settings, database, clock, backend, server, thread, app)


@dataclass
class Merchant:
    """An organization with one API key and a client that sends it."""

    organization_id: uuid.UUID
    api_key: str
    mode: Mode
    http: httpx.Client

    def post_alone(self, path: str, json: Any) -> httpx.Response:
        """POST on a client of its own: concurrent callers in tests must not share one httpx client."""
        with httpx.Client(base_url=self.http.base_url, headers=self.http.headers, timeout=30) as http:
            return http.post(path, json=json)


@contextmanager
def merchant(live: LiveServer, *, name: str = "Test Shop", mode: Mode = "test") -> Iterator[Merchant]:
    with live.database.write_sessions() as db:
        org, issued = create_organization(db, live.clock, name, mode)
        db.commit()
    with live.client(issued.secret) as http:
        yield Merchant(organization_id=org.id, api_key=issued.secret, mode=mode, http=http)


@contextmanager
def refusing(live: LiveServer, name: str, timing: str, table: str, condition: str) -> Iterator[None]:
    """A trigger that makes the database refuse a write matching `condition` (SQL on NEW): a real server error."""
    if live.backend == "postgresql":
        install = [
            f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql",
            f"CREATE TRIGGER {name} {timing} ON {table} FOR EACH ROW WHEN ({condition}) EXECUTE FUNCTION {name}()",
        ]
        remove = [f"DROP TRIGGER {name} ON {table}", f"DROP FUNCTION {name}()"]
    else:
        install = [
            f"CREATE TRIGGER {name} {timing} ON {table} FOR EACH ROW WHEN {condition}"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ]
        remove = [f"DROP TRIGGER {name}"]
    with live.database.write_sessions() as db:
        for statement in install:
            db.execute(text(statement))
        db.commit()
    try:
        yield
    finally:
        with live.database.write_sessions() as db:
            for statement in remove:
                db.execute(text(statement))
            db.commit()

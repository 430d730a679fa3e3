"""Engines and sessions for SQLite (WAL, busy timeout) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Database:
    engine: Engine
    # Writers on SQLite start with BEGIN IMMEDIATE: a deferred transaction that later tries to write can fail
    # at once with SQLITE_BUSY when another writer got there first, whatever the busy timeout says.
    write_sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]

    def dispose(self) -> None:
        self.engine.dispose()


def make_database(url: str, *, pool_size: int = 20) -> Database:
    engine = make_engine(url, pool_size=pool_size)
    writer = engine.execution_options(kassa_write=True)
    return Database(
        engine=engine,
        write_sessions=sessionmaker(bind=writer, expire_on_commit=False),
        read_sessions=sessionmaker(bind=engine, expire_on_commit=False),
    )


def make_engine(url: str, *, pool_size: int = 20) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                "check_same_thread": False,
                "factory": _writer_lock_connection_class(threading.Lock()),
            },
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours to issue.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("kassa_write", False):
            conn.connection.dbapi_connection.begin_write()
        else:
            conn.exec_driver_sql("BEGIN")


def _writer_lock_connection_class(lock: threading.Lock) -> type[sqlite3.Connection]:
    """sqlite3 connections whose write transactions queue on one in-process lock.

    SQLite allows one writer; its busy handler makes the others poll with sleeps of up to 100 ms, which turns
    32 concurrent writers into seconds of p99 latency. Waiting on a lock wakes the next writer at once. The
    busy timeout still covers writers in other processes.
    """

    class WriterLockConnection(sqlite3.Connection):
        holds_lock = False

        def begin_write(self) -> None:
            lock.acquire()
            self.holds_lock = True
            try:
                self.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._release()
                raise

        def commit(self) -> None:
            try:
                super().commit()
            finally:
                self._release()

        def rollback(self) -> None:
            try:
                super().rollback()
            finally:
                self._release()

        def close(self) -> None:
            try:
                super().close()
            finally:
                self._release()

        def _release(self) -> None:
            if self.holds_lock:
                self.holds_lock = False
                lock.release()

    return WriterLockConnection

"""Wake this process's delivery workers when a transaction that created deliveries commits.

Workers also poll, which covers deliveries committed by other processes; this only removes the poll delay for
work created in-process (the API and the worker in `kassa serve`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

_KEY = "kassa.webhooks.wake"
_listeners: list[Callable[[], None]] = []
_lock = threading.Lock()


def mark(db: Session) -> None:
    """Ask for a wake-up once this session's transaction commits."""
    db.info[_KEY] = True


def subscribe(listener: Callable[[], None]) -> None:
    with _lock:
        _listeners.append(listener)


def unsubscribe(listener: Callable[[], None]) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def notify() -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_KEY, False):
        notify()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: object) -> None:
    session.info.pop(_KEY, None)

"""Idempotency-Key on POST: the first response is kept and replayed; a duplicate in flight gets 409.

The key is claimed in a short transaction of its own, so a concurrent duplicate sees it at once. The response is
stored in the same transaction as the request's effect, so a crash can never leave an effect without its record.
A claim whose request died (process killed) goes stale after a minute and may be taken over; a request that
fails with a 5xx releases its claim so the client can retry. The job runner purges keys older than the TTL.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kassa.api.models import IdempotencyRecord
from kassa.api.runtime import Runtime
from kassa.auth.keys import Principal
from kassa.config import Settings
from kassa.db.engine import Database
from kassa.errors import BadRequest, Conflict

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Claimed:
    record_id: uuid.UUID


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: str


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{method} {path}?{query}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def validate_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters")
    return key


def claim(runtime: Runtime, principal: Principal, key: str, print_: str) -> Claimed | Replay:
    """Claim `key` for this request, or say what the earlier request with that key decided."""
    for _ in range(5):
        with runtime.db.write_sessions() as db:
            outcome = _try_claim(db, runtime, principal, key, print_)
            db.commit()
        if outcome is not None:
            return outcome
    # Only reached when the record keeps vanishing under us: another request is racing on this very key.
    raise Conflict("A request with this Idempotency-Key is already in progress")


def _try_claim(db: Session, runtime: Runtime, principal: Principal, key: str, print_: str) -> Claimed | Replay | None:
    now = runtime.settings.clock.now()
    scope = (
        IdempotencyRecord.organization_id == principal.organization_id,
        IdempotencyRecord.mode == principal.mode,
        IdempotencyRecord.key == key,
    )
    record = db.scalar(select(IdempotencyRecord).where(*scope))
    if record is not None and record.created_at < now - timedelta(seconds=runtime.settings.idempotency_ttl_seconds):
        db.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record.id))
        record = None
    if record is None:
        new = IdempotencyRecord(
            organization_id=principal.organization_id,
            mode=principal.mode,
            key=key,
            fingerprint=print_,
            state="in_flight",
            created_at=now,
            locked_at=now,
        )
        try:
            with db.begin_nested():
                db.add(new)
        except IntegrityError:
            return None  # someone inserted it first: look again
        return Claimed(new.id)
    if record.fingerprint != print_:
        raise BadRequest("Idempotency-Key was already used with different parameters; use a new key for a new request")
    if record.state == "done":
        assert record.status_code is not None
        assert record.response_body is not None
        return Replay(record.status_code, record.response_body)
    stale_before = now - timedelta(seconds=runtime.settings.idempotency_stale_seconds)
    if record.locked_at < stale_before:
        taken = db.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == record.id, IdempotencyRecord.locked_at == record.locked_at)
            .values(locked_at=now)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]  # CursorResult has rowcount
            return Claimed(record.id)
    raise Conflict("A request with this Idempotency-Key is already in progress; retry when it has finished")


def store_response(db: Session, record_id: uuid.UUID, status_code: int, body: bytes) -> None:
    db.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id)
        .values(state="done", status_code=status_code, response_body=body.decode())
    )


def release(runtime: Runtime, record_id: uuid.UUID) -> None:
    with runtime.db.write_sessions() as db:
        db.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id, IdempotencyRecord.state == "in_flight")
        )
        db.commit()


def purge_expired(settings: Settings, database: Database) -> int:
    """Delete the keys older than the TTL (a periodic task of the job runner); returns how many."""
    cutoff = settings.clock.now() - timedelta(seconds=settings.idempotency_ttl_seconds)
    with database.write_sessions() as db:
        result = db.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff))
        db.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has rowcount

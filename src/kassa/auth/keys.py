"""API keys: `kassa_sk_<mode>_<secret>`, shown once, stored as a SHA-256 digest.

A key carries 256 bits of randomness, so a plain digest is enough: there is nothing to brute-force that a slow
password hash would protect, and lookups stay one indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from kassa.auth.models import ApiKey, Organization
from kassa.clock import Clock
from kassa.errors import NotFound, Unauthorized

Mode = Literal["test", "live"]
KEY_PREFIX = "kassa_sk_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: one organization in one mode. Every query is scoped by both."""

    organization_id: uuid.UUID
    mode: Mode
    api_key_id: uuid.UUID | None = None  # None for work done by Kassa itself (jobs, the hosted page)

    def stamp(self, now: datetime) -> dict[str, Any]:
        """The ownership and timestamp columns every new merchant object starts with (see OwnedMixin)."""
        return {"organization_id": self.organization_id, "mode": self.mode, "created_at": now, "updated_at": now}

    @classmethod
    def of(cls, organization_id: uuid.UUID, mode: str) -> Principal:
        """The owner of a stored object, for work Kassa does on its behalf."""
        return cls(organization_id=organization_id, mode="live" if mode == "live" else "test")


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    secret: str


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_key(db: Session, clock: Clock, organization: Organization, mode: Mode, name: str = "default") -> IssuedKey:
    secret = f"{KEY_PREFIX}{mode}_{secrets.token_urlsafe(32)}"
    now = clock.now()
    key = ApiKey(
        organization_id=organization.id,
        mode=mode,
        name=name,
        prefix=secret[: len(KEY_PREFIX) + len(mode) + 5],
        key_hash=hash_key(secret),
        created_at=now,
        updated_at=now,
    )
    db.add(key)
    db.flush()
    return IssuedKey(api_key=key, secret=secret)


def authenticate(db: Session, authorization: str | None) -> Principal:
    if not authorization:
        raise Unauthorized("Missing Authorization header: use 'Authorization: Bearer <api key>'")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Malformed Authorization header: use 'Authorization: Bearer <api key>'")
    if not token.startswith((f"{KEY_PREFIX}test_", f"{KEY_PREFIX}live_")):
        raise Unauthorized("Invalid API key")
    # Columns, not an ORM object: this runs on every request.
    row = db.execute(
        select(ApiKey.id, ApiKey.organization_id, ApiKey.mode, ApiKey.revoked_at).where(
            ApiKey.key_hash == hash_key(token)
        )
    ).first()
    if row is None:
        raise Unauthorized("Invalid API key")
    if row.revoked_at is not None:
        raise Unauthorized("This API key has been revoked")
    mode: Mode = "live" if row.mode == "live" else "test"
    return Principal(organization_id=row.organization_id, mode=mode, api_key_id=row.id)


def list_keys(db: Session, organization_id: uuid.UUID) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.organization_id == organization_id).order_by(ApiKey.created_at)
    return list(db.scalars(stmt))


def revoke_key(db: Session, clock: Clock, key_id: uuid.UUID) -> ApiKey:
    key = db.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No API key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        key.updated_at = key.revoked_at
    db.flush()
    return key

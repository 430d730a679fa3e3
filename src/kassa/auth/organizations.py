from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from kassa.auth.keys import IssuedKey, Mode, issue_key
from kassa.auth.models import Organization
from kassa.clock import Clock
from kassa.errors import BadRequest, NotFound
from kassa.payments.deposit import default_dev_wallet


def create_organization(db: Session, clock: Clock, name: str, mode: Mode) -> tuple[Organization, IssuedKey]:
    name = name.strip()
    if not name or len(name) > 200:
        raise BadRequest("name: must be 1 to 200 characters")
    now = clock.now()
    org = Organization(name=name, created_at=now, updated_at=now, status="active", kind="business", customer_seq=0)
    db.add(org)
    db.flush()
    default_dev_wallet(db, clock, org.id)
    return org, issue_key(db, clock, org, mode)


def get_organization(db: Session, organization_id: uuid.UUID) -> Organization:
    org = db.get(Organization, organization_id)
    if org is None:
        raise NotFound("Organization not found")
    return org

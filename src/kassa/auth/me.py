"""`GET /api/v1/auth/me`: who is calling, in Copperx's user shape.

Copperx answers with the signed-in user. Kassa has no user accounts: the caller is an API key of one organization
in one mode, so the "user" here is that key. What is true: `id`, `firstName` (the key's name), `role` ("owner":
a key may do everything its organization may), `status` and the `organization`. What is synthetic: `lastName`
(empty), `email` (the organization's contact email, else empty) and `accountType` ("email", one of the two values
the contract allows; neither fits a key). Kassa adds `apiKey` (id, name, prefix, mode) and `livemode`.
"""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter
from starlette.responses import Response

from kassa.api.routing import ApiRoute, Caller, Db
from kassa.api.schemas import OutModel, respond
from kassa.api.types import Timestamp
from kassa.auth.models import ApiKey, Organization
from kassa.auth.organizations import get_organization
from kassa.errors import NotFound

router = APIRouter(prefix="/api/v1/auth", tags=["Auth"], route_class=ApiRoute)


class MeOrganizationOut(OutModel):
    id: uuid.UUID
    name: str
    type: str
    status: str
    owner_id: str
    created_at: Timestamp
    updated_at: Timestamp


class ApiKeyOut(OutModel):
    id: uuid.UUID
    name: str
    prefix: str
    mode: str


class MeOut(OutModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    email: str
    role: Literal["owner"] = "owner"
    account_type: Literal["email"] = "email"
    status: str
    organization: MeOrganizationOut
    api_key: ApiKeyOut
    livemode: bool
    created_at: Timestamp
    updated_at: Timestamp


def to_me(key: ApiKey, org: Organization) -> MeOut:
    return MeOut(
        id=key.id,
        first_name=key.name,
        last_name="",
        email=org.email or "",
        # A key is "active" while its organization is; a revoked key never gets this far (401).
        status=org.status,
        organization=MeOrganizationOut(
            id=org.id,
            name=org.name,
            type="merchant",
            status=org.status,
            owner_id=str(org.id),  # as GET /organization: the organization owns itself through its keys
            created_at=org.created_at,
            updated_at=org.updated_at,
        ),
        api_key=ApiKeyOut(id=key.id, name=key.name, prefix=key.prefix, mode=key.mode),
        livemode=key.mode == "live",
        created_at=key.created_at,
        updated_at=key.updated_at,
    )


@router.get("/me", response_model=MeOut, summary="The caller: its API key and organization")
def me(db: Db, caller: Caller) -> Response:
    key = db.get(ApiKey, caller.api_key_id) if caller.api_key_id is not None else None
    if key is None or key.organization_id != caller.organization_id:
        raise NotFound("API key not found")
    return respond(to_me(key, get_organization(db, caller.organization_id)))

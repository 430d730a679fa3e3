from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter
from starlette.responses import Response

from kassa.api.routing import ApiRoute, Caller, Db
from kassa.api.schemas import OutModel, respond
from kassa.api.types import Timestamp
from kassa.auth.models import Organization
from kassa.auth.organizations import get_organization

router = APIRouter(prefix="/api/v1/organization", tags=["Organization"], route_class=ApiRoute)


class OrganizationOut(OutModel):
    id: uuid.UUID
    object: Literal["organization"] = "organization"
    name: str
    type: str
    status: str
    kind: str
    owner_id: str
    no_of_employees: str
    monthly_payment_volume: str
    addresses: list[dict[str, Any]]
    email: str | None
    support_email: str | None
    brand_logo: str
    brand_color: str
    website_url: str | None
    feature_access_requests: list[str]
    livemode: bool
    created_at: Timestamp
    updated_at: Timestamp


def to_out(org: Organization, livemode: bool) -> OrganizationOut:
    return OrganizationOut(
        id=org.id,
        name=org.name,
        type="merchant",
        status=org.status,
        kind=org.kind,
        # Kassa has no user accounts: the organization owns itself through its API keys.
        owner_id=str(org.id),
        no_of_employees="",
        monthly_payment_volume="",
        addresses=[],
        email=org.email,
        support_email=org.support_email,
        brand_logo="",
        brand_color=org.brand_color or "",
        website_url=org.website_url,
        feature_access_requests=[],
        livemode=livemode,
        created_at=org.created_at,
        updated_at=org.updated_at,
    )


@router.get("", response_model=OrganizationOut, summary="The caller's organization")
def organization(db: Db, caller: Caller) -> Response:
    return respond(to_out(get_organization(db, caller.organization_id), caller.mode == "live"))

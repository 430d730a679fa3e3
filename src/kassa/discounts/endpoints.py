from __future__ import annotations

from fastapi import APIRouter

from kassa.api.routing import ApiRoute

router = APIRouter(route_class=ApiRoute)

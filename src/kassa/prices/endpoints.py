"""`GET /api/v1/constants/prices`: public, as in Copperx's contract (no key); it reads no database."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from kassa.api.runtime import Runtime
from kassa.api.schemas import respond
from kassa.errors import BadRequest
from kassa.prices.currencies import FIAT_CURRENCIES
from kassa.prices.schemas import PricesOut
from kassa.prices.service import PriceService

router = APIRouter(prefix="/api/v1/constants", tags=["Constants"])
_service_lock = threading.Lock()


def price_service(request: Request) -> PriceService:
    """The process's one price service (its cache is per process), made on first use."""
    state = request.app.state
    with _service_lock:
        service: PriceService | None = getattr(state, "prices", None)
        if service is None:
            runtime: Runtime = state.runtime
            service = state.prices = PriceService.for_runtime(runtime)
        return service


@router.get(
    "/prices",
    response_model=PricesOut,
    summary="The price of each accepted token in a fiat currency (usd or eur), to turn a total into tokens",
)
def get_prices(request: Request, currency: Annotated[str, Query(max_length=20)]) -> Response:
    wanted = currency.strip().lower()
    if wanted not in FIAT_CURRENCIES:
        raise BadRequest(f"currency: must be one of {', '.join(FIAT_CURRENCIES)}")
    return respond(PricesOut.of(price_service(request).prices(wanted)))

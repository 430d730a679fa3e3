"""create_app(settings): the one place that wires Kassa together."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kassa import __version__
from kassa.api import docs as api_docs
from kassa.api import health
from kassa.api.middleware import BodyGuardMiddleware, RequestIdMiddleware
from kassa.api.runtime import Runtime
from kassa.auth import endpoints as organization_endpoints
from kassa.auth import me as me_endpoints
from kassa.background import Background
from kassa.catalog import endpoints as catalog_endpoints
from kassa.chains.devnet import DevChain
from kassa.chains.registry import build_registry
from kassa.checkout import endpoints as checkout_endpoints
from kassa.checkout import pages as checkout_pages
from kassa.config import Settings
from kassa.customers import endpoints as customer_endpoints
from kassa.db.engine import Database, make_database
from kassa.discounts import endpoints as discount_endpoints
from kassa.errors import (
    KassaError,
    http_error_handler,
    kassa_error_handler,
    unexpected_error_handler,
    validation_error_handler,
)
from kassa.events import endpoints as event_endpoints
from kassa.payments import endpoints as payment_endpoints
from kassa.payments import intents as payment_intent_endpoints
from kassa.prices import endpoints as price_endpoints
from kassa.ratelimit import TokenBuckets
from kassa.recursion import restore_recursion_limit
from kassa.taxes import endpoints as tax_endpoints
from kassa.webhooks import endpoints as webhook_endpoints


def create_app(settings: Settings, database: Database | None = None, *, embedded: bool = False) -> FastAPI:
    """Build the ASGI app; `embedded` also runs the background services in this process."""
    restore_recursion_limit()
    db = database or make_database(settings.database_url)

    devnet = (
        DevChain(confirmations=settings.devnet_confirmations, block_seconds=settings.devnet_block_seconds)
        if settings.devnet
        else None
    )
    chains = build_registry(settings.file_config)
    if devnet is not None:
        chains = chains.with_chain(devnet.chain(settings.public_url))
    api_rate_limit = (
        TokenBuckets(settings.api_rate_limit, settings.api_rate_burst, now=time.monotonic)
        if settings.api_rate_limit > 0
        else None
    )
    runtime = Runtime(settings=settings, db=db, chains=chains, devnet=devnet, api_rate_limit=api_rate_limit)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        background = Background(settings, db, runtime)
        if embedded:
            background.start()
        try:
            yield
        finally:
            background.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="Kassa API",
        version=__version__,
        description="Self-hostable crypto checkout, wire-compatible with the Copperx API.",
        docs_url=None,  # served by kassa.api.docs, without a CDN
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.add_exception_handler(KassaError, kassa_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
    app.include_router(health.router)
    api_docs.install(app)
    app.include_router(organization_endpoints.router)
    app.include_router(me_endpoints.router)
    for router in (
        customer_endpoints.router,
        catalog_endpoints.router,
        tax_endpoints.router,
        discount_endpoints.router,
        checkout_endpoints.router,
        event_endpoints.router,
        webhook_endpoints.router,
        payment_endpoints.api,
        payment_endpoints.devnet,
        payment_intent_endpoints.router,
        price_endpoints.router,
    ):
        app.include_router(router)
    checkout_pages.install(app)  # the hosted page at /pay/{id}, its static files and security headers
    # Outermost first: the request id wraps everything, so even a 413 carries one.
    app.add_middleware(BodyGuardMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    return app

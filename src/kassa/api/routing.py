"""The transaction boundary of the API: one request = one database transaction.

`ApiRoute` wraps every /api/v1 endpoint: it authenticates the caller, honours Idempotency-Key, opens the
request's session (BEGIN IMMEDIATE for writes on SQLite) and ends it: commit when the endpoint answered below
400, rollback otherwise. The commit runs in the endpoint's own worker thread, straight after the endpoint
returns, so a write transaction never waits for a thread while holding the database's write lock.
Endpoints and services never commit.
"""

from __future__ import annotations

import functools
import inspect
import typing
import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kassa.api import idempotency
from kassa.api.runtime import Runtime
from kassa.auth.keys import Principal, authenticate
from kassa.clock import Clock
from kassa.config import Settings
from kassa.errors import (
    KassaError,
    NotFound,
    error_response,
    internal_error,
    render_kassa_error,
    render_validation_error,
)
from kassa.ratelimit import retry_after_header

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_REQUEST_PARAM = "kassa_request_"


class ApiRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _ending_transaction(endpoint), **kwargs)

    def get_route_handler(self) -> Handler:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await _handle(request, inner)
            except KassaError as exc:
                return render_kassa_error(exc)

        return handler


def _ending_transaction(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a sync endpoint so the transaction ends in the same thread, right after it returns."""
    if inspect.iscoroutinefunction(endpoint):
        return endpoint
    hints = typing.get_type_hints(endpoint, include_extras=True)
    signature = inspect.signature(endpoint)
    params = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()]
    # FastAPI hands the Request to one parameter only: reuse the endpoint's own if it has one.
    own = next((p.name for p in params if p.annotation is Request), None)
    if own is None:
        params.append(inspect.Parameter(_REQUEST_PARAM, inspect.Parameter.KEYWORD_ONLY, annotation=Request))
    request_param = own or _REQUEST_PARAM

    @functools.wraps(endpoint)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        request: Request = kwargs[request_param] if own else kwargs.pop(request_param)
        try:
            response = endpoint(*args, **kwargs)
        except KassaError as exc:
            response = render_kassa_error(exc)
        _finish(request, response)
        return response

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]  # read by FastAPI's inspect
        parameters=params, return_annotation=hints.get("return", signature.return_annotation)
    )
    return wrapper


async def _handle(request: Request, inner: Handler) -> Response:
    runtime: Runtime = request.app.state.runtime
    principal = await run_in_threadpool(_authenticate, runtime, request.headers.get("authorization"))
    if runtime.api_rate_limit is not None and (wait := runtime.api_rate_limit.take(str(principal.api_key_id))):
        return error_response(
            429,
            "Too many requests for this API key: slow down and retry after the Retry-After seconds",
            headers={"Retry-After": retry_after_header(wait)},
        )
    request.state.principal = principal
    request.state.idempotency_record = None
    request.state.finished = False
    key = request.headers.get("idempotency-key") if request.method == "POST" else None
    if key is not None:
        key = idempotency.validate_key(key)
        body = await request.body()
        print_ = idempotency.fingerprint(request.method, request.url.path, request.url.query, body)
        outcome = await run_in_threadpool(idempotency.claim, runtime, principal, key, print_)
        if isinstance(outcome, idempotency.Replay):
            return Response(
                outcome.body,
                status_code=outcome.status_code,
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        request.state.idempotency_record = outcome.record_id
    write = request.method not in READ_METHODS
    db = (runtime.db.write_sessions if write else runtime.db.read_sessions)()
    request.state.db = db
    try:
        try:
            response = await _call(inner, request)
        except Exception as exc:
            # Answered here rather than re-raised: the server would log it again and drop the connection.
            await run_in_threadpool(_abandon, runtime, request)
            return internal_error(exc)
        except BaseException:  # cancelled: the client is gone, nothing to answer
            await run_in_threadpool(_abandon, runtime, request)
            raise
        if not request.state.finished:
            # Validation failed before the endpoint ran, or the endpoint is async.
            await run_in_threadpool(_finish, request, response)
        if response.status_code >= 500:
            await run_in_threadpool(_abandon, runtime, request)
        return response
    finally:
        await run_in_threadpool(db.close)


def _finish(request: Request, response: Response) -> None:
    db: Session = request.state.db
    record_id: uuid.UUID | None = request.state.idempotency_record
    request.state.finished = True
    if response.status_code >= 400:
        db.rollback()  # a rejected request leaves nothing behind (but its recorded answer, below)
    if record_id is not None and response.status_code < 500:
        idempotency.store_response(db, record_id, response.status_code, bytes(response.body))
        db.commit()
    elif response.status_code < 400:
        db.commit()


def _abandon(runtime: Runtime, request: Request) -> None:
    """The request failed for reasons of ours: undo it, and free its idempotency key for a retry."""
    request.state.db.rollback()
    if request.state.idempotency_record is not None:
        idempotency.release(runtime, request.state.idempotency_record)


async def _call(inner: Handler, request: Request) -> Response:
    try:
        return await inner(request)
    except KassaError as exc:
        return render_kassa_error(exc)
    except RequestValidationError as exc:
        return render_validation_error(exc)


def _authenticate(runtime: Runtime, authorization: str | None) -> Principal:
    with runtime.db.read_sessions() as db:
        return authenticate(db, authorization)


# Dependencies are async on purpose: they only read request state, and a sync one would cost a thread hop.
async def get_db(request: Request) -> Session:
    db: Session = request.state.db
    return db


async def get_principal(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


async def get_settings(request: Request) -> Settings:
    runtime: Runtime = request.app.state.runtime
    return runtime.settings


async def get_clock(request: Request) -> Clock:
    runtime: Runtime = request.app.state.runtime
    return runtime.settings.clock


Db = Annotated[Session, Depends(get_db)]
Caller = Annotated[Principal, Depends(get_principal)]
AppSettings = Annotated[Settings, Depends(get_settings)]
Now = Annotated[Clock, Depends(get_clock)]


def parse_id(raw: str, what: str) -> uuid.UUID:
    """Ids in paths: anything that is not a UUID cannot name an object, so it is simply not found."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"{what} {raw[:60]} not found") from None

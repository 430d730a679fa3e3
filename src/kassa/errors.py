"""Domain errors with a stable code and HTTP status, and the one place that renders them in Copperx's shape."""

from __future__ import annotations

import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

_NAMED_RULE = re.compile(r"^([A-Za-z][A-Za-z0-9_.]*): ")


class KassaError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str | Sequence[str], *, code: str | None = None) -> None:
        super().__init__(message if isinstance(message, str) else "; ".join(message))
        self.message: str | list[str] = message if isinstance(message, str) else list(message)
        if code is not None:
            self.code = code


class BadRequest(KassaError):
    """A 400. A message that names a field ("quantity: must be at least 1") is sent as a one-item list, the
    shape validation errors have, so clients read every field error the same way."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str | Sequence[str], *, code: str | None = None) -> None:
        if isinstance(message, str) and _NAMED_RULE.match(message):
            message = [message]
        super().__init__(message, code=code)


class Unauthorized(KassaError):
    status_code = 401
    code = "unauthorized"


class NotFound(KassaError):
    status_code = 404
    code = "not_found"


class Conflict(KassaError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(KassaError):
    status_code = 413
    code = "payload_too_large"


class TooManyRequests(KassaError):
    status_code = 429
    code = "rate_limited"


def error_body(status: int, message: str | list[str]) -> dict[str, Any]:
    return {"message": message, "statusCode": status, "error": HTTPStatus(status).phrase}


def error_response(status: int, message: str | list[str], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def render_kassa_error(exc: KassaError) -> JSONResponse:
    return error_response(exc.status_code, exc.message)


def validation_messages(errors: Sequence[Any]) -> list[str]:
    """One line per bad field, naming it by its JSON path (`lineItems.data.0.quantity: ...`)."""
    messages: list[str] = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path", "header")]
        # Pydantic names the branch of a union or a validator function in loc; these mean nothing to a client.
        loc = [part for part in loc if not part.startswith(("function-", "union[", "json-or-python"))]
        msg = str(err.get("msg", "is invalid"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        # A model-level rule names its own field ("interval: is required …"): graft it onto the path.
        if match := _NAMED_RULE.match(msg):
            loc.append(match.group(1))
            msg = msg[match.end() :]
        field = ".".join(loc) if loc else "body"
        if err.get("type") == "missing":
            msg = "is required"
        elif err.get("type") == "model_attributes_type" and field == "body":
            msg = "must be a JSON object"
        elif err.get("type") == "json_invalid":
            field, msg = "body", f"is not valid JSON ({err.get('ctx', {}).get('error', 'syntax error')})"
        messages.append(f"{field}: {msg}")
    return messages


def render_validation_error(exc: RequestValidationError) -> JSONResponse:
    return error_response(400, validation_messages(exc.errors()))


async def kassa_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KassaError)
    return render_kassa_error(exc)


async def validation_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return render_validation_error(exc)


async def http_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, str(exc.detail))
    return error_response(exc.status_code, message, headers=dict(exc.headers) if exc.headers else None)


def internal_error(exc: BaseException) -> JSONResponse:
    """A bug of ours: log it with its traceback, answer in the usual shape, leak nothing."""
    from kassa.logs import get_logger

    get_logger("kassa.errors").error("unhandled error", exc_info=exc)
    return error_response(500, "Internal server error")


async def unexpected_error_handler(_request: Request, exc: Exception) -> Response:
    return internal_error(exc)

"""ASGI middleware: request ids with structured access logs, and the guard every request body passes."""

from __future__ import annotations

import json
import re
import time
import uuid

import anyio.to_thread
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kassa.api import strict_json
from kassa.errors import error_body
from kassa.logs import get_logger
from kassa.text import text_problem

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
log = get_logger("kassa.http")
# Requests logged at DEBUG instead of INFO.
QUIET_PATHS = frozenset({"/devnet/rpc"})


class RequestIdMiddleware:
    """Take a sane X-Request-Id from the client or make one; echo it and put it on every log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # The dev chain's JSON-RPC is polled by wallets and pages many times a minute: DEBUG keeps it out of sight.
            log_at = log.debug if scope["path"] in QUIET_PATHS else log.info
            log_at(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")


BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OFF_LOOP_BYTES = 64 * 1024
# The hosted page's forms post url-encoded bodies; everything else that takes a body takes JSON.
FORM_PREFIXES = ("/pay/",)


class BodyGuardMiddleware:
    """What every request passes before a route sees it (docs/security.md):

    - a body over `max_bytes` is a 413, whether announced by Content-Length or streamed;
    - a JSON route's body must say it is JSON (415 otherwise) and pass `strict_json.check_body` (400);
    - no query parameter may hold a control character (400).

    The body is read here once, up to the limit, and handed on in one piece.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int = strict_json.MAX_DEPTH) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if text_problem(scope["path"]):
            await _send_error(send, 400, ["path: must not contain control characters"])
            return
        if problem := strict_json.query_problem(scope.get("query_string", b"")):
            await _send_error(send, 400, [problem])
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _send_error(send, 413, f"Request body is larger than {self.max_bytes} bytes")
            return
        checked = scope["method"] in BODY_METHODS and not scope["path"].startswith(FORM_PREFIXES)
        if not checked and length is not None:
            # The server (h11/httptools) stops a body at its Content-Length, so the header is the whole story.
            await self.app(scope, receive, send)
            return
        body = await self._read(receive, send)
        if body is None:
            return  # over the limit: already answered
        if checked and body:
            if not _is_json(headers.get(b"content-type", b"")):
                await _send_error(send, 415, "Content-Type must be application/json (UTF-8)")
                return
            try:
                if len(body) > OFF_LOOP_BYTES:
                    # Checking a large body takes a good fraction of a second: not on the event loop, which
                    # every other request is waiting on.
                    body = await anyio.to_thread.run_sync(strict_json.check_body, body, self.max_depth)
                else:
                    body = strict_json.check_body(body, self.max_depth)
            except strict_json.InvalidJson as exc:
                await _send_error(send, 400, [exc.message])
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive, send: Send) -> bytes | None:
        chunks: list[bytes] = []
        received = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client left mid-body: a prefix must never be taken for the whole
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await _send_error(send, 413, f"Request body is larger than {self.max_bytes} bytes")
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


def _is_json(content_type: bytes) -> bool:
    """application/json or any +json type, in UTF-8 (the default; JSON has no other encoding since RFC 8259)."""
    media, _, params = content_type.decode("latin-1").partition(";")
    media = media.strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        return False
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


async def _send_error(send: Send, status: int, message: str | list[str]) -> None:
    body = json.dumps(error_body(status, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})

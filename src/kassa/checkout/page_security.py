"""The hosted page's defences: the page secret, CSRF tokens on its forms, and its security headers.

Forms carry a CSRF token (an HMAC of the session id under the page secret) and are refused from other sites;
responses carry a strict CSP and refuse framing; the static files are served with `nosniff`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kassa.checkout.models import CheckoutSession
from kassa.config import ConfigError, Settings


def page_secret(settings: Settings) -> bytes:
    """KASSA_PAGE_SECRET, or `[pages] secret` from KASSA_CONFIG (set one when several API processes serve pages),
    else a random key made once in KASSA_DATA_DIR/page-secret (created atomically, so concurrent first starts
    agree)."""
    configured = settings.page_secret or settings.file_config.get("pages", {}).get("secret")
    if configured is not None:
        if not isinstance(configured, str) or len(configured) < 16:
            raise ConfigError("KASSA_PAGE_SECRET (or pages.secret) must be a string of at least 16 characters")
        return hashlib.sha256(configured.encode()).digest()
    path = settings.data_dir / "page-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"page-secret.{os.getpid()}.{secrets.token_hex(4)}")
        tmp.write_text(secrets.token_hex(32), encoding="ascii")
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # fails if another process got there first; theirs is then the key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def csrf_token(secret: bytes, session_id: uuid.UUID) -> str:
    return hmac.new(secret, b"kassa-pay-form:" + session_id.bytes, hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, request: Request, session_id: uuid.UUID, form: Mapping[str, str] | None) -> bool:
    """Was this form sent from the session's own page: same site, and carrying the session's token?"""
    if form is None or request.headers.get("sec-fetch-site") == "cross-site":
        return False
    return hmac.compare_digest(form.get("csrf_token", ""), csrf_token(secret, session_id))


def security_headers(session: CheckoutSession | None = None) -> dict[str, str]:
    form_action = "'self'"
    if session is not None and session.cancel_url:
        # The cancel form's answer redirects to cancelUrl, which form-action governs too.
        parts = urlsplit(session.cancel_url)
        if parts.scheme in ("http", "https") and parts.netloc and all(c not in parts.netloc for c in " ;,'"):
            form_action += f" {parts.scheme}://{parts.netloc}"
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https:; connect-src 'self'; "
        f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


class NoSniff:
    """ASGI wrapper adding `X-Content-Type-Options: nosniff` to every response (for the static files)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-content-type-options", b"nosniff")]
            await send(message)

        await self.app(scope, receive, send_with)

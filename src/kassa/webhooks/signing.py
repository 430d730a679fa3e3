"""Webhook signatures: what Kassa sends, and `verify()` for merchants' receivers.

Two schemes sign every request, so a receiver may check either:

- Copperx's: `x-webhook-signature` is the lowercase hex HMAC-SHA256 of the raw body, keyed with the secret
  string (its UTF-8 bytes). No timestamp, so no replay protection: `verify()` accepts it alone only when asked
  (`allow_legacy_signature=True`).
- Standard Webhooks (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp` (Unix seconds) and
  `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the base64-decoded part of
  the secret after `whsec_`. While a rotated secret is still valid the header lists one signature per secret,
  separated by spaces, so a receiver holding either secret verifies.

This module uses the standard library only: merchants import it without Kassa's server dependencies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

SECRET_PREFIX = "whsec_"  # noqa: S105  # the prefix of every secret, not a secret
DEFAULT_TOLERANCE = 300


class WebhookVerificationError(Exception):
    """The request is not a genuine, fresh webhook from Kassa; the message says which check failed."""


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _standard_key(secret: str) -> bytes:
    """The HMAC key of the Standard Webhooks scheme: the bytes a `whsec_…` secret encodes."""
    raw = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return secret.encode()


def copperx_signature(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_signature(message_id: str, timestamp: int, body: bytes, secret: str) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_standard_key(secret), signed, hashlib.sha256).digest()).decode()


def signature_headers(message_id: str, timestamp: int, body: bytes, secrets_: Sequence[str]) -> dict[str, str]:
    """The signing headers of one request; `secrets_` newest first (the first one signs the Copperx header)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(standard_signature(message_id, timestamp, body, s) for s in secrets_),
        "x-webhook-signature": copperx_signature(body, secrets_[0]),
    }


def verify(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
    allow_legacy_signature: bool = False,
) -> dict[str, Any]:
    """Check a webhook request and return its parsed event; raise `WebhookVerificationError` otherwise.

    `payload` is the raw request body, exactly as received (parse it only after this returns). The Standard
    Webhooks headers are required: `webhook-id`, `webhook-timestamp` within `tolerance` seconds of `now`
    (default: the current time), and a `webhook-signature` with a matching `v1` signature. Within the window a
    copy can still arrive twice: deduplicate on `webhook-id`. Comparisons are constant-time.

    `allow_legacy_signature=True` also accepts a request that carries only Copperx's `x-webhook-signature`
    (when the Standard headers are present, they still decide). Use it only for a sender that cannot send the
    Standard headers: that signature covers the body alone, with no timestamp, so anyone who ever saw one
    delivery (a log, a proxy, a leaked request) can strip the other headers and replay it, forever, and it
    verifies.
    """
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    lowered = {key.lower(): value for key, value in headers.items()}
    if "webhook-signature" in lowered:
        _verify_standard(body, lowered, secret, tolerance, time.time() if now is None else now)
    elif "x-webhook-signature" in lowered and allow_legacy_signature:
        expected = copperx_signature(body, secret)
        if not hmac.compare_digest(expected, lowered["x-webhook-signature"].strip().lower()):
            raise WebhookVerificationError("x-webhook-signature does not match")
    elif "x-webhook-signature" in lowered:
        raise WebhookVerificationError(
            "no webhook-signature header: x-webhook-signature alone has no timestamp and could be a replay"
            " (accepted only with allow_legacy_signature=True)"
        )
    else:
        raise WebhookVerificationError("no webhook-signature header")
    try:
        event: dict[str, Any] = json.loads(body)
    except ValueError as exc:
        raise WebhookVerificationError("the body is not JSON") from exc
    return event


def _verify_standard(body: bytes, headers: Mapping[str, str], secret: str, tolerance: int, now: float) -> None:
    message_id = headers.get("webhook-id")
    raw_timestamp = headers.get("webhook-timestamp")
    if not message_id or not raw_timestamp:
        raise WebhookVerificationError("webhook-id and webhook-timestamp are required with webhook-signature")
    digits = raw_timestamp.strip()
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 20):  # Unix seconds, no signs or "_"
        raise WebhookVerificationError("webhook-timestamp is not an integer")
    timestamp = int(digits)
    if timestamp < now - tolerance:
        raise WebhookVerificationError("webhook-timestamp is too old")
    if timestamp > now + tolerance:
        raise WebhookVerificationError("webhook-timestamp is in the future")
    expected = standard_signature(message_id, timestamp, body, secret).encode()
    for candidate in headers["webhook-signature"].split():
        if hmac.compare_digest(expected, candidate.encode()):
            return
    raise WebhookVerificationError("no webhook-signature matches")

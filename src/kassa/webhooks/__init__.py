"""Webhooks: endpoints, signed deliveries retried for days, and the helper merchants verify them with.

from kassa.webhooks import verify, WebhookVerificationError
event = verify(raw_body, request.headers, secret)
"""

from kassa.webhooks.signing import WebhookVerificationError, verify

__all__ = ["WebhookVerificationError", "verify"]

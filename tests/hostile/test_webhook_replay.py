"""Issue #10, point 9: a captured webhook cannot be replayed through `kassa.webhooks.verify`.

The attacker holds one genuine delivery (body and headers, from a log or a proxy) and not the secret.
"""

from __future__ import annotations

import pytest

from kassa.webhooks import WebhookVerificationError, verify
from kassa.webhooks.signing import DEFAULT_TOLERANCE, generate_secret, signature_headers
from support import LiveServer, Merchant
from test_webhooks_delivery import (  # noqa: F401  # forget_endpoints is an autouse fixture
    Received,
    Receiver,
    emit_event,
    forget_endpoints,
    make_endpoint,
)

TEN_YEARS = 10 * 365 * 24 * 3600


@pytest.fixture
def captured(live: LiveServer, shop: Merchant) -> tuple[Received, str]:
    """One real delivery from the server's worker, and the endpoint's secret."""
    with Receiver() as receiver:
        endpoint = make_endpoint(shop, receiver.url)
        event_id = emit_event(live, shop)
        [request] = receiver.wait_for(1)
    assert request.event_id == event_id
    return request, endpoint["secret"]


def sent_at(request: Received) -> int:
    return int(request.headers["webhook-timestamp"])


def test_a_captured_delivery_verifies_when_fresh(captured: tuple[Received, str]) -> None:
    request, secret = captured
    assert verify(request.body, request.headers, secret, now=sent_at(request))["id"] == request.event_id


def test_stripped_to_the_timestamp_less_signature_it_is_refused_by_default(captured: tuple[Received, str]) -> None:
    request, secret = captured
    legacy_only = {"x-webhook-signature": request.headers["x-webhook-signature"]}
    for now in (sent_at(request), sent_at(request) + TEN_YEARS):
        with pytest.raises(WebhookVerificationError, match="allow_legacy_signature"):
            verify(request.body, legacy_only, secret, now=now)
    # Stripping part of the Standard headers does not fall back to the legacy signature either.
    for dropped in ("webhook-id", "webhook-timestamp"):
        partial = {k: v for k, v in request.headers.items() if k != dropped}
        with pytest.raises(WebhookVerificationError, match="required"):
            verify(request.body, partial, secret, now=sent_at(request), allow_legacy_signature=True)
    no_signature = {k: v for k, v in request.headers.items() if k != "webhook-signature"}
    with pytest.raises(WebhookVerificationError, match="allow_legacy_signature"):
        verify(request.body, no_signature, secret, now=sent_at(request))


def test_an_old_timestamp_is_refused_and_cannot_be_refreshed(captured: tuple[Received, str]) -> None:
    request, secret = captured
    later = sent_at(request) + DEFAULT_TOLERANCE + 1
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(request.body, request.headers, secret, now=later)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(request.body, request.headers, secret, now=later, allow_legacy_signature=True)
    # A new timestamp on the old signature: the signature covers the timestamp.
    refreshed = request.headers | {"webhook-timestamp": str(later)}
    with pytest.raises(WebhookVerificationError, match="no webhook-signature matches"):
        verify(request.body, refreshed, secret, now=later)


def test_the_opt_in_accepts_the_legacy_signature_alone_and_still_checks_it(captured: tuple[Received, str]) -> None:
    request, secret = captured
    legacy_only = {"X-Webhook-Signature": request.headers["x-webhook-signature"]}
    event = verify(request.body, legacy_only, secret, allow_legacy_signature=True)
    assert event["id"] == request.event_id
    # The risk the opt-in takes: ten years later, the same bytes still verify.
    assert verify(request.body, legacy_only, secret, now=sent_at(request) + TEN_YEARS, allow_legacy_signature=True)
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify(request.body + b" ", legacy_only, secret, allow_legacy_signature=True)
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify(request.body, legacy_only, generate_secret(), allow_legacy_signature=True)


def test_without_a_server_the_default_is_the_same() -> None:
    secret, body, now = generate_secret(), b'{"id": "evt_1"}', 1_800_000_000
    headers = signature_headers("evt_1", now, body, [secret])
    assert verify(body, headers, secret, now=now) == {"id": "evt_1"}
    with pytest.raises(WebhookVerificationError):
        verify(body, {"x-webhook-signature": headers["x-webhook-signature"]}, secret, now=now)

"""`kassa.webhooks.verify`, the retry schedule and the `[webhooks]` settings, without a server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kassa.config import ConfigError, Settings
from kassa.webhooks import WebhookVerificationError, verify
from kassa.webhooks.config import DeliveryConfig
from kassa.webhooks.retry import RETRY_WINDOW, next_attempt_at, retry_delay
from kassa.webhooks.signing import generate_secret, signature_headers

SECRET = generate_secret()
BODY = json.dumps({"id": "evt_1", "type": "checkout_session.completed", "data": {"object": {}}}).encode()
NOW = 1_800_000_000


def signed(secrets: list[str] | None = None, timestamp: int = NOW, body: bytes = BODY) -> dict[str, str]:
    return signature_headers("evt_1", timestamp, body, secrets or [SECRET])


def test_signatures_match_independent_implementations() -> None:
    headers = signed()
    assert headers["x-webhook-signature"] == hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    key = base64.b64decode(SECRET[len("whsec_") :])
    digest = hmac.new(key, b"evt_1.%d." % NOW + BODY, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()
    assert (headers["webhook-id"], headers["webhook-timestamp"]) == ("evt_1", str(NOW))


def test_verify_accepts_the_standard_scheme_in_any_header_case_and_the_legacy_one_when_asked() -> None:
    headers = signed()
    assert verify(BODY, headers, SECRET, now=NOW)["id"] == "evt_1"
    assert verify(BODY.decode(), {k.upper(): v for k, v in headers.items()}, SECRET, now=NOW)["id"] == "evt_1"
    standard_only = {k: v for k, v in headers.items() if k != "x-webhook-signature"}
    assert verify(BODY, standard_only, SECRET, now=NOW)["type"] == "checkout_session.completed"
    legacy_only = {"X-Webhook-Signature": headers["x-webhook-signature"]}
    assert verify(BODY, legacy_only, SECRET, allow_legacy_signature=True)["id"] == "evt_1"
    with pytest.raises(WebhookVerificationError, match="allow_legacy_signature"):
        verify(BODY, legacy_only, SECRET)


def test_verify_checks_the_timestamp_window() -> None:
    headers = signed()
    assert verify(BODY, headers, SECRET, now=NOW + 300)
    assert verify(BODY, headers, SECRET, now=NOW - 300)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(BODY, headers, SECRET, now=NOW + 301)
    with pytest.raises(WebhookVerificationError, match="future"):
        verify(BODY, headers, SECRET, now=NOW - 301)
    assert verify(BODY, headers, SECRET, tolerance=3600, now=NOW + 3000)
    # The window cannot be dodged by falling back to the timestamp-less scheme: the Standard headers decide.
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(BODY, headers, SECRET, now=NOW + 10_000)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(BODY, headers, SECRET, now=NOW + 10_000, allow_legacy_signature=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h: h | {"webhook-signature": "v1,AAAA"}, "no webhook-signature matches"),
        (lambda h: h | {"webhook-id": "evt_2"}, "no webhook-signature matches"),
        (lambda h: h | {"webhook-timestamp": str(NOW + 1)}, "no webhook-signature matches"),
        (lambda h: h | {"webhook-timestamp": "soon"}, "not an integer"),
        (lambda h: h | {"webhook-timestamp": f"{NOW:_}"}, "not an integer"),
        (lambda h: {k: v for k, v in h.items() if k != "webhook-id"}, "required"),
        (lambda h: {k: v for k, v in h.items() if k != "webhook-timestamp"}, "required"),
        (lambda h: {"x-webhook-signature": "00" * 32}, "allow_legacy_signature"),
        (lambda h: {}, "no webhook-signature header"),
    ],
)
def test_a_tampered_or_incomplete_signature_is_refused_saying_why(
    change: Callable[[dict[str, str]], dict[str, str]], message: str
) -> None:
    with pytest.raises(WebhookVerificationError, match=message):
        verify(BODY, change(signed()), SECRET, now=NOW)


def test_the_legacy_signature_is_still_checked_when_allowed() -> None:
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify(BODY, {"x-webhook-signature": "00" * 32}, SECRET, allow_legacy_signature=True)
    with pytest.raises(WebhookVerificationError, match="no webhook-signature header"):
        verify(BODY, {}, SECRET, allow_legacy_signature=True)


def test_another_secret_or_a_changed_body_fails_verification() -> None:
    with pytest.raises(WebhookVerificationError):
        verify(BODY, signed(), generate_secret(), now=NOW)
    with pytest.raises(WebhookVerificationError):
        verify(BODY + b" ", signed(), SECRET, now=NOW)
    with pytest.raises(WebhookVerificationError, match="not JSON"):
        verify(b"nope", signed(body=b"nope"), SECRET, now=NOW)


def test_during_a_rollover_either_secret_verifies() -> None:
    old, new = generate_secret(), generate_secret()
    headers = signed([new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert verify(BODY, headers, secret, now=NOW)
    assert headers["x-webhook-signature"] == hmac.new(new.encode(), BODY, hashlib.sha256).hexdigest()


def test_retry_schedule_and_its_three_day_window() -> None:
    rng = random.Random(7)
    expected = [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2)]
    expected += [timedelta(hours=5), timedelta(hours=10), timedelta(hours=12), timedelta(hours=12)]
    for failures, base in enumerate(expected, 1):
        delay = retry_delay(failures, rng)
        assert base * 0.9 <= delay <= base * 1.1, failures
    # Replay a receiver that never answers: the attempts stop 3 days after the first, with one at that mark.
    first = datetime(2026, 1, 1, tzinfo=UTC)
    attempts = [first]
    while (nxt := next_attempt_at(first, attempts[-1], len(attempts), rng)) is not None:
        attempts.append(nxt)
    assert attempts[-1] == first + RETRY_WINDOW
    assert 9 <= len(attempts) <= 12
    assert all(b > a for a, b in itertools.pairwise(attempts))


def test_delivery_settings_come_from_the_config_file(tmp_path: Path) -> None:
    def settings(section: dict[str, Any]) -> Settings:
        return Settings(data_dir=tmp_path, database_url="sqlite://", public_url="http://x", file_config=section)

    assert DeliveryConfig.from_settings(settings({})) == DeliveryConfig()
    config = DeliveryConfig.from_settings(settings({"webhooks": {"concurrency": 8, "lease_seconds": 30}}))
    assert (config.concurrency, config.lease_seconds, config.timeout_seconds) == (8, 30.0, 10.0)
    bad_sections: list[dict[str, Any]] = [
        {"webhooks": {"concurency": 8}},
        {"webhooks": {"concurrency": 0}},
        {"webhooks": {"lease_seconds": 20}},  # not more than twice the 10 s timeout
        {"webhooks": "fast"},
    ]
    for bad in bad_sections:
        with pytest.raises(ConfigError):
            DeliveryConfig.from_settings(settings(bad))

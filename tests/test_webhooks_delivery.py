"""Webhook delivery against a real HTTP receiver on loopback, driven by the live server's own worker.

Time is moved with the server's clock (retries an hour or three days away happen at once); the tests wait for
outcomes, never for durations. The receiver and the helpers here are shared by the other webhook test modules.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from factories import make_session
from kassa.events.service import emit
from kassa.webhooks import WebhookVerificationError, verify
from kassa.webhooks.config import DeliveryConfig
from support import LiveServer, Merchant, free_port

# --- a receiver ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None  # answer only once this is set (or after 30 s)
    endless: bool = False  # a chunked body that never ends


Responder = Callable[[Received, int], Reply]


class Receiver:
    """A threaded HTTP/1.1 server on 127.0.0.1 that records every request and answers as `respond` says."""

    def __init__(self, respond: Responder | None = None) -> None:
        self.respond: Responder = respond or (lambda _request, _n: Reply())
        self.requests: list[Received] = []
        self.in_flight = 0
        self.answered = 0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True, name="test-receiver"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def received(self, event_id: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if event_id is None or r.event_id == event_id]

    def wait_for(self, count: int, event_id: str | None = None, timeout: float = 20) -> list[Received]:
        wait_until(lambda: len(self.received(event_id)) >= count, f"{count} request(s) at the receiver", timeout)
        return self.received(event_id)

    def _record(self, request: Received) -> int:
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            return len(self.requests)

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1
            self.answered += 1


def _handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 30

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            request = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            n = receiver._record(request)
            try:
                reply = receiver.respond(request, n)
                if reply.hold is not None:
                    reply.hold.wait(timeout=30)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.endless:
                    self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    chunk = b"x" * 16384
                    for _ in range(100_000):  # ~1.6 GB: far more than any reader should take
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    return
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            finally:
                receiver._done()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: the tests hang up mid-answer on purpose (timeouts, capped reads, killed workers)."""


# --- helpers ------------------------------------------------------------------------------------------------


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 20) -> None:
    """Poll until `predicate` holds; a liveness check (fails only if it never happens), not a timing one."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def make_endpoint(shop: Merchant, url: str, events: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    body = {"description": "test", "url": url, "enabledEvents": {"events": events or ["*"]}} | fields
    resp = shop.http.post("/api/v1/webhook-endpoints", json=body)
    assert resp.status_code == 200, resp.text
    created: dict[str, Any] = resp.json()
    return created


def emit_event(live: LiveServer, shop: Merchant, type: str = "checkout_session.completed", **data: Any) -> str:
    """Write an event as a state change would (its own committed transaction); returns its id."""
    object_id = uuid.uuid4()
    with live.database.write_sessions() as db:
        event = emit(
            db,
            live.clock,
            organization_id=shop.organization_id,
            mode=shop.mode,
            type=type,
            object_type="checkout_session",
            object_id=object_id,
            data={"id": str(object_id), "object": "checkout_session"} | data,
        )
        db.commit()
        return str(event.id)


def event_detail(shop: Merchant, event_id: str) -> dict[str, Any]:
    resp = shop.http.get(f"/api/v1/events/{event_id}")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def delivery_of(shop: Merchant, event_id: str, endpoint_id: str) -> dict[str, Any]:
    deliveries: list[dict[str, Any]] = event_detail(shop, event_id)["deliveries"]
    [delivery] = [d for d in deliveries if d["webhookEndpointId"] == endpoint_id]
    return delivery


def wait_for_attempts(shop: Merchant, event_id: str, endpoint_id: str, count: int) -> dict[str, Any]:
    """Wait until the delivery has `count` attempts recorded; returns it."""
    wait_until(
        lambda: delivery_of(shop, event_id, endpoint_id)["attemptCount"] >= count,
        f"attempt {count} of event {event_id}",
    )
    return delivery_of(shop, event_id, endpoint_id)


@contextmanager
def moved_clock(live: LiveServer) -> Iterator[Callable[[timedelta], None]]:
    """Advance the server's clock as needed; put it back afterwards (the server is shared)."""
    total = timedelta()

    def advance(delta: timedelta) -> None:
        nonlocal total
        total += delta
        live.clock.advance(delta)

    try:
        yield advance
    finally:
        live.clock.advance(-total)


def notices_at(receiver: Receiver) -> list[dict[str, Any]]:
    return [r.json() for r in receiver.received() if r.json()["type"] == "webhook_endpoint.disabled"]


@pytest.fixture(autouse=True)
def forget_endpoints(shop: Merchant) -> Iterator[None]:
    """Delete the test's endpoints afterwards, so no retry of theirs reaches a later test's receiver."""
    yield
    listed = shop.http.get("/api/v1/webhook-endpoints").json()["data"]
    for endpoint in listed:
        shop.http.delete(f"/api/v1/webhook-endpoints/{endpoint['id']}")


def independent_copperx_signature(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def independent_standard_signatures(request: Received, secret: str) -> tuple[str, list[str]]:
    """(expected, sent): Standard Webhooks as its spec reads, written without Kassa's code."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = request.headers["webhook-id"].encode() + b"." + request.headers["webhook-timestamp"].encode() + b"."
    expected = base64.b64encode(hmac.new(key, content + request.body, hashlib.sha256).digest()).decode()
    sent = [part.split(",", 1)[1] for part in request.headers["webhook-signature"].split(" ")]
    return expected, sent


# --- tests --------------------------------------------------------------------------------------------------


def test_a_real_state_change_is_delivered_signed_both_ways(live: LiveServer, shop: Merchant) -> None:
    with Receiver() as receiver:
        endpoint = make_endpoint(shop, receiver.url, ["checkout_session.expired"])
        secret = endpoint["secret"]
        session = make_session(shop)
        assert shop.http.post(f"/api/v1/checkout/sessions/{session['id']}/expire").status_code == 200
        [request] = receiver.wait_for(1)

    event = request.json()
    assert (event["type"], event["object"], event["apiVersion"]) == ("checkout_session.expired", "event", "2023-01-11")
    assert event["data"]["object"]["id"] == session["id"]
    assert event["data"]["object"]["status"] == "expired"
    assert isinstance(event["created"], int)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == event["id"]
    assert request.path == "/hooks"
    # The helper accepts it; so do independent implementations of both schemes.
    assert verify(request.body, request.headers, secret, now=live.clock.now().timestamp())["id"] == event["id"]
    assert request.headers["x-webhook-signature"] == independent_copperx_signature(request.body, secret)
    expected, sent = independent_standard_signatures(request, secret)
    assert sent == [expected]
    assert abs(int(request.headers["webhook-timestamp"]) - live.clock.now().timestamp()) < 300
    # The secret itself travels nowhere; x-webhook-token only names the endpoint.
    assert request.headers["x-webhook-token"] == endpoint["id"]
    assert all(secret not in value and secret[6:] not in value for value in request.headers.values())
    # A forged or altered request fails either way.
    tampered = request.body.replace(b"expired", b"complete")
    with pytest.raises(WebhookVerificationError):
        verify(tampered, request.headers, secret, now=live.clock.now().timestamp())
    copperx_only = {"x-webhook-signature": request.headers["x-webhook-signature"]}
    assert verify(request.body, copperx_only, secret, allow_legacy_signature=True)["id"] == event["id"]
    with pytest.raises(WebhookVerificationError):
        verify(tampered, copperx_only, secret, allow_legacy_signature=True)
    with pytest.raises(WebhookVerificationError, match="allow_legacy_signature"):
        verify(request.body, copperx_only, secret)  # by default: no timestamp, no trust
    with pytest.raises(WebhookVerificationError):
        verify(request.body, request.headers, "whsec_" + base64.b64encode(b"k" * 32).decode())

    delivery = wait_for_attempts(shop, event["id"], endpoint["id"], 1)
    assert (delivery["status"], delivery["lastStatusCode"]) == ("succeeded", 200)
    [attempt] = delivery["attempts"]
    assert (attempt["succeeded"], attempt["statusCode"], attempt["responseBody"]) == (True, 200, "ok")


def test_a_failing_receiver_is_retried_until_it_succeeds(live: LiveServer, shop: Merchant) -> None:
    def respond(_request: Received, n: int) -> Reply:
        return Reply(500, b"try later") if n <= 3 else Reply(204, b"")

    with Receiver(respond) as receiver, moved_clock(live) as advance:
        endpoint = make_endpoint(shop, receiver.url)
        event_id = emit_event(live, shop)
        wait_for_attempts(shop, event_id, endpoint["id"], 1)
        # The schedule starts 1 min, 5 min, 30 min (±10 %): jump just past each one.
        for attempt, wait in enumerate((timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30)), 2):
            assert delivery_of(shop, event_id, endpoint["id"])["status"] == "pending"
            advance(wait * 1.1 + timedelta(seconds=1))
            wait_for_attempts(shop, event_id, endpoint["id"], attempt)
        delivery = delivery_of(shop, event_id, endpoint["id"])
        requests = receiver.received()

    assert len(requests) == 4  # three failures, then it got the event once more: never again after success
    assert {r.body for r in requests} == {requests[0].body}  # the same bytes every time
    assert {r.event_id for r in requests} == {event_id}
    assert delivery["status"] == "succeeded"
    assert [(a["number"], a["statusCode"], a["succeeded"]) for a in delivery["attempts"]] == [
        (1, 500, False),
        (2, 500, False),
        (3, 500, False),
        (4, 204, True),
    ]
    assert delivery["attempts"][0]["responseBody"] == "try later"
    assert delivery["nextAttemptAt"] is None
    assert event_detail(shop, event_id)["pendingWebhooks"] == 0


def test_an_endpoint_down_for_three_days_is_disabled_and_an_event_says_so(live: LiveServer, shop: Merchant) -> None:
    dead_url = f"http://127.0.0.1:{free_port()}/gone"  # nothing listens: every attempt is refused
    with Receiver() as watcher, moved_clock(live) as advance:
        dead = make_endpoint(shop, dead_url, ["checkout_session.completed"])
        watching = make_endpoint(shop, watcher.url, ["*"])
        event_id = emit_event(live, shop)
        delivery = wait_for_attempts(shop, event_id, dead["id"], 1)
        while delivery["status"] == "pending":
            assert shop.http.get(f"/api/v1/webhook-endpoints/{dead['id']}").json()["isDisabled"] is False
            # Past the longest retry delay (12 h + 10 %): each step makes exactly one more attempt due.
            advance(timedelta(hours=13, minutes=30))
            delivery = wait_for_attempts(shop, event_id, dead["id"], delivery["attemptCount"] + 1)
        wait_until(lambda: len(notices_at(watcher)) == 1, "the webhook_endpoint.disabled event at the watcher")
        later = emit_event(live, shop)
        wait_for_attempts(shop, later, watching["id"], 1)
        notices = notices_at(watcher)

    assert delivery["status"] == "failed"
    assert all(not a["succeeded"] and a["statusCode"] is None and a["error"] for a in delivery["attempts"])
    assert delivery["attemptCount"] == len(delivery["attempts"]) >= 6
    span = delivery["attempts"][-1]["attemptedAt"], delivery["attempts"][0]["attemptedAt"]
    assert span[0] > span[1]
    endpoint = shop.http.get(f"/api/v1/webhook-endpoints/{dead['id']}").json()
    assert endpoint["isDisabled"] is True
    assert endpoint["disabledReason"] == "every delivery failed for 3 days"
    # The event saying so: in the events API, and delivered to the endpoint subscribed to everything.
    listed = shop.http.get("/api/v1/events", params={"type": "webhook_endpoint.disabled"}).json()
    [notice] = listed["data"]
    assert notice["data"]["object"]["id"] == dead["id"]
    assert notice["data"]["object"]["isDisabled"] is True
    assert dead["secret"] not in json.dumps(notice)
    assert [n["id"] for n in notices] == [notice["id"]]
    # Nothing more is queued for a disabled endpoint.
    assert [d["webhookEndpointId"] for d in event_detail(shop, later)["deliveries"]] == [watching["id"]]


def test_event_types_an_endpoint_does_not_subscribe_to_are_not_sent(live: LiveServer, shop: Merchant) -> None:
    with Receiver() as receiver:
        endpoint = make_endpoint(shop, receiver.url, ["checkout_session.completed"])
        skipped = emit_event(live, shop, "checkout_session.expired")
        sent = emit_event(live, shop, "checkout_session.completed")
        receiver.wait_for(1)
        wait_for_attempts(shop, sent, endpoint["id"], 1)
        requests = receiver.received()
    assert [r.event_id for r in requests] == [sent]
    assert event_detail(shop, skipped)["deliveries"] == []


def test_secret_rotation_signs_with_both_secrets_for_24_hours(live: LiveServer, shop: Merchant) -> None:
    with Receiver() as receiver, moved_clock(live) as advance:
        endpoint = make_endpoint(shop, receiver.url)
        old = endpoint["secret"]
        resp = shop.http.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/regenerate")
        assert resp.status_code == 200, resp.text
        new = resp.json()["secret"]
        assert new != old
        assert new.startswith("whsec_")

        during = emit_event(live, shop)
        [first] = receiver.wait_for(1, during)
        now = live.clock.now().timestamp()
        advance(timedelta(hours=24, seconds=1))
        after = emit_event(live, shop)
        [second] = receiver.wait_for(1, after)
        later = live.clock.now().timestamp()

    # During the rollover: one Standard Webhooks signature per secret; a receiver holding either verifies.
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert verify(first.body, first.headers, secret, now=now)["id"] == during
        expected, sent = independent_standard_signatures(first, secret)
        assert expected in sent
    # The Copperx header is the new secret's (as Copperx does on regenerate).
    assert first.headers["x-webhook-signature"] == independent_copperx_signature(first.body, new)
    # After 24 h only the new secret signs.
    assert len(second.headers["webhook-signature"].split(" ")) == 1
    assert verify(second.body, second.headers, new, now=later)["id"] == after
    with pytest.raises(WebhookVerificationError):
        verify(second.body, second.headers, old, now=later)


def test_redirects_are_not_followed(live: LiveServer, shop: Merchant) -> None:
    with Receiver() as target:
        with Receiver(lambda _r, _n: Reply(307, b"", {"location": target.url})) as receiver:
            endpoint = make_endpoint(shop, receiver.url)
            event_id = emit_event(live, shop)
            delivery = wait_for_attempts(shop, event_id, endpoint["id"], 1)
        assert target.received() == []
    assert delivery["status"] == "pending"  # a 3xx is a failure, retried later like any other
    [attempt] = delivery["attempts"]
    assert (attempt["statusCode"], attempt["succeeded"]) == (307, False)


def test_an_endless_response_is_read_only_up_to_64_kib(live: LiveServer, shop: Merchant) -> None:
    with Receiver(lambda _r, _n: Reply(200, endless=True)) as receiver:
        endpoint = make_endpoint(shop, receiver.url)
        event_id = emit_event(live, shop)
        delivery = wait_for_attempts(shop, event_id, endpoint["id"], 1)
    [attempt] = delivery["attempts"]
    # A 2xx counts, the body was cut off (not waited for until the timeout), and only its start is kept.
    assert (attempt["succeeded"], attempt["statusCode"]) == (True, 200)
    assert "65536 bytes" in attempt["error"]
    assert attempt["responseBody"] == "x" * 1024


def test_a_stalled_endpoint_neither_blocks_the_api_nor_delays_other_endpoints(live: LiveServer, shop: Merchant) -> None:
    release = threading.Event()
    with (
        Receiver(lambda _r, _n: Reply(hold=release)) as stalled,
        Receiver() as healthy,
    ):
        try:
            sessions = [make_session(shop) for _ in range(30)]
            make_endpoint(shop, stalled.url, ["checkout_session.expired"])
            make_endpoint(shop, healthy.url, ["checkout_session.completed"])
            # Many events for the stalled endpoint, all committed through the API while it hangs.
            for session in sessions:
                resp = shop.http.post(f"/api/v1/checkout/sessions/{session['id']}/expire")
                assert resp.status_code == 200
            wait_until(lambda: stalled.in_flight >= 1, "the stalled endpoint to hold a request")
            event_id = emit_event(live, shop, "checkout_session.completed")
            [request] = healthy.wait_for(1)
            # The healthy endpoint got its event while the stalled one still holds every request it was sent.
            assert request.event_id == event_id
            assert stalled.answered == 0  # the bound per endpoint: see the next test
        finally:
            release.set()
        stalled.wait_for(30)


def test_an_endpoint_gets_at_most_25_requests_at_once_and_the_26th_waits_for_a_free_slot(
    live: LiveServer, shop: Merchant
) -> None:
    """The receiver holds every request until the test answers it. Whether a 26th request was held back is
    judged after something the worker did later: a delivery to another endpoint, of an event written after the
    30, has arrived (so the worker had claimed all 30 and was free to send)."""
    bound = DeliveryConfig.from_settings(live.settings).per_endpoint
    assert bound == 25
    answers = [threading.Event() for _ in range(bound + 5)]
    with Receiver(lambda _r, n: Reply(hold=answers[n - 1])) as stalled, Receiver() as healthy:

        def worker_moved_on() -> None:
            count = len(healthy.received())
            emit_event(live, shop, "checkout_session.completed")
            healthy.wait_for(count + 1)

        try:
            make_endpoint(shop, stalled.url, ["checkout_session.expired"])
            make_endpoint(shop, healthy.url, ["checkout_session.completed"])
            for _ in range(bound + 5):
                emit_event(live, shop, "checkout_session.expired")
            stalled.wait_for(bound)
            worker_moved_on()
            assert (len(stalled.received()), stalled.in_flight, stalled.answered) == (bound, bound, 0)
            answers[0].set()  # one answer frees one slot: the 26th goes, and no other
            stalled.wait_for(bound + 1)
            worker_moved_on()
            assert (len(stalled.received()), stalled.answered, stalled.in_flight) == (bound + 1, 1, bound)
        finally:
            for answer in answers:
                answer.set()
        stalled.wait_for(bound + 5)


def test_live_mode_endpoints_on_private_networks_are_refused(live: LiveServer) -> None:
    """A live-mode endpoint pointing at loopback is never called: the attempt fails, saying why.

    The API refuses such a URL when it is set (tests/hostile/test_webhook_targets.py); this one was stored before
    that rule, so only the check at delivery stands between it and the receiver.
    """
    from sqlalchemy import update

    from kassa.webhooks.models import WebhookEndpoint
    from support import merchant

    with merchant(live, name="Live Shop", mode="live") as live_shop, Receiver() as receiver:
        endpoint = make_endpoint(live_shop, "https://93.184.216.34/hooks")
        with live.database.write_sessions() as db:
            stored = update(WebhookEndpoint).where(WebhookEndpoint.id == uuid.UUID(endpoint["id"]))
            db.execute(stored.values(url=receiver.url))
            db.commit()
        event_id = emit_event(live, live_shop)
        delivery = wait_for_attempts(live_shop, event_id, endpoint["id"], 1)
        assert receiver.received() == []
        live_shop.http.delete(f"/api/v1/webhook-endpoints/{endpoint['id']}")
    [attempt] = delivery["attempts"]
    assert attempt["succeeded"] is False
    assert "127.0.0.1 is loopback, not a public address" in attempt["error"]

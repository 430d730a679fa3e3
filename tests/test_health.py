from __future__ import annotations

import re

import httpx

from support import LiveServer, Merchant


def test_health_and_readiness(live: LiveServer) -> None:
    with live.client() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").json() == {"status": "ok"}


def test_openapi_and_docs(live: LiveServer) -> None:
    with live.client() as http:
        spec = http.get("/openapi.json").json()
        assert "/api/v1/customers" in spec["paths"]
        docs = http.get("/docs")
        assert docs.status_code == 200
        assert "/docs-assets/swagger-ui-bundle.js" in docs.text  # served here, not from a CDN
        assert "cdn" not in docs.text.lower()
        assert http.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def test_request_id_is_generated_or_echoed(live: LiveServer, shop: Merchant) -> None:
    def request_id(http: httpx.Client, path: str = "/api/v1/organization", sent: str | None = None) -> str:
        resp = http.get(path, headers={} if sent is None else {"X-Request-Id": sent})
        [value] = resp.headers.get_list("x-request-id")  # exactly one, never dropped
        return value

    first, second = request_id(shop.http), request_id(shop.http)
    assert GENERATED_ID.fullmatch(first)
    assert GENERATED_ID.fullmatch(second)
    assert first != second
    assert request_id(shop.http, sent="req-123:a.b_C") == "req-123:a.b_C"
    # Something unsafe is replaced by a fresh id, not echoed into our logs and headers.
    for unsafe in ("a b<script>", "x" * 129, "../etc", ""):
        assert GENERATED_ID.fullmatch(request_id(shop.http, sent=unsafe)), unsafe
    # Error answers carry it too.
    assert request_id(shop.http, "/api/v1/no-such-thing", sent="req-404") == "req-404"
    with live.client() as anonymous:
        assert request_id(anonymous, "/api/v1/customers", sent="req-401") == "req-401"

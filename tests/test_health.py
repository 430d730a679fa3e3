from __future__ import annotations

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


def test_request_id_is_generated_or_echoed(shop: Merchant) -> None:
    generated = shop.http.get("/api/v1/organization").headers["x-request-id"]
    assert len(generated) >= 16
    echoed = shop.http.get("/api/v1/organization", headers={"X-Request-Id": "req-123"}).headers["x-request-id"]
    assert echoed == "req-123"
    # Something unsafe is replaced, not echoed into our logs and headers.
    unsafe = shop.http.get("/api/v1/organization", headers={"X-Request-Id": "a b<script>"}).headers["x-request-id"]
    assert unsafe != "a b<script>"

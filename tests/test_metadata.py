from __future__ import annotations

import pytest

from support import Merchant


def create(shop: Merchant, metadata: object) -> tuple[int, dict[str, object]]:
    resp = shop.http.post("/api/v1/customers", json={"email": "m@example.com", "metadata": metadata})
    return resp.status_code, resp.json()


def test_limits_accepted_at_the_edge(shop: Merchant) -> None:
    metadata = {f"k{i:02d}": "v" for i in range(49)} | {"k" * 40: "v" * 500}
    status, body = create(shop, metadata)
    assert status == 200
    assert body["metadata"] == metadata


@pytest.mark.parametrize(
    ("metadata", "fragment"),
    [
        ({f"k{i}": "v" for i in range(51)}, "at most 50 keys"),
        ({"k" * 41: "v"}, "1 to 40 characters"),
        ({"": "v"}, "1 to 40 characters"),
        ({"k": "v" * 501}, "at most 500 characters"),
        ({"k": {"nested": 1}}, "string, number or boolean"),
        ({"k": [1]}, "string, number or boolean"),
        ("text", "object"),
    ],
)
def test_limits_enforced(shop: Merchant, metadata: object, fragment: str) -> None:
    status, body = create(shop, metadata)
    assert status == 400
    assert any(m.startswith("metadata:") and fragment in m for m in body["message"]), body  # type: ignore[attr-defined]
    assert shop.http.get("/api/v1/customers").json()["count"] == 0

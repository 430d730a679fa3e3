"""Point 1: a 100,000-deep JSON body, sent to every route that parses a body, gets a 400 and the process lives.

The server runs as its own process (`kassa serve --devnet`, as an operator runs it): a C stack overflow kills the
process with a segfault, which a server thread inside the test process could not report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from kassa.api.strict_json import MAX_DEPTH, InvalidJson, check_body, nesting_depth
from kassa.recursion import RECURSION_LIMIT
from support import Backend, free_port, fresh_database_url

DEEP = b"[" * 100_000
BALANCED_DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECTS = b'{"a":' * 60_000 + b"1" + b"}" * 60_000
SAMPLE_ID = "0190a1b2-0000-7000-8000-000000000000"


@dataclass
class ServeProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    api_key: str

    def alive(self) -> bool:
        if self.process.poll() is not None:
            return False
        return httpx.get(f"{self.base_url}/healthz", timeout=10).status_code == 200


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def serve(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    backend: Backend = request.param
    tmp = tmp_path_factory.mktemp(f"serve-{backend}")
    port = free_port()
    env = os.environ | {
        "KASSA_DATA_DIR": str(tmp),
        "KASSA_DATABASE_URL": fresh_database_url(backend, tmp, "nesting"),
        "KASSA_DEVNET": "1",
        "KASSA_LOG_LEVEL": "ERROR",
    }
    kassa = [sys.executable, "-m", "kassa"]
    subprocess.run([*kassa, "migrate"], env=env, check=True, capture_output=True)
    created = subprocess.run([*kassa, "org", "create", "Nest", "--json"], env=env, check=True, capture_output=True)
    api_key = json.loads(created.stdout)["apiKey"]
    log = (tmp / "serve.log").open("wb")
    process = subprocess.Popen([*kassa, "serve", "--port", str(port)], env=env, stdout=log, stderr=log)
    server = ServeProcess(process, f"http://127.0.0.1:{port}", api_key)
    deadline = time.monotonic() + 60
    while True:
        try:
            if server.alive():
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, (tmp / "serve.log").read_text()
        assert time.monotonic() < deadline, "kassa serve did not answer in time"
        time.sleep(0.2)
    yield server
    process.terminate()
    process.wait(timeout=20)
    log.close()


def test_every_body_route_refuses_a_100000_deep_body_and_the_process_survives(serve: ServeProcess) -> None:
    spec = httpx.get(f"{serve.base_url}/openapi.json", timeout=10).json()
    operations = [
        (method.upper(), "/".join(SAMPLE_ID if seg.startswith("{") else seg for seg in path.split("/")))
        for path, methods in spec["paths"].items()
        for method in methods
        if method in ("post", "put", "patch", "delete")
    ]
    assert ("POST", "/devnet/rpc") in operations
    assert ("POST", "/devnet/fund") in operations
    assert ("POST", "/api/v1/checkout/sessions") in operations
    headers = {"content-type": "application/json", "authorization": f"Bearer {serve.api_key}"}
    for method, path in operations:
        for body in (DEEP, BALANCED_DEEP, DEEP_OBJECTS):
            resp = httpx.request(method, serve.base_url + path, content=body, headers=headers, timeout=30)
            assert resp.status_code == 400, (method, path, resp.status_code, resp.text[:200])
            assert resp.json()["message"] == [f"body: nests deeper than {MAX_DEPTH} levels of arrays and objects"]
            assert serve.alive(), f"the server died on {method} {path}"
    # Without a key too: the unauthenticated faucet and JSON-RPC were the first to fall.
    for path in ("/devnet/fund", "/devnet/rpc", "/api/v1/customers"):
        resp = httpx.post(serve.base_url + path, content=DEEP, headers={"content-type": "application/json"})
        assert resp.status_code == 400
        assert serve.alive()


def test_the_hosted_page_form_routes_survive_a_deep_body(serve: ServeProcess) -> None:
    # Page forms are url-encoded, never parsed as JSON: a deep JSON body there is simply not a form.
    for content_type in ("application/json", "application/x-www-form-urlencoded"):
        resp = httpx.post(
            f"{serve.base_url}/pay/{SAMPLE_ID}", content=DEEP, headers={"content-type": content_type}, timeout=30
        )
        assert resp.status_code in (403, 404)
        assert serve.alive()


def test_the_recursion_limit_is_sane_after_the_ethereum_libraries_are_imported() -> None:
    # A fresh interpreter: import what the server imports, then read the limit (pytest's own may differ).
    code = "import sys, kassa.app, kassa.chains.devnet, kassa.chains.rpc; print(sys.getrecursionlimit())"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert int(out) == RECURSION_LIMIT
    # And at that limit a parse that recurses in C ends in an exception, not in a dead process.
    code = (
        f"import json, sys; sys.setrecursionlimit({RECURSION_LIMIT})\n"
        "try:\n json.loads('[' * 100000)\nexcept RecursionError: print('ok')"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "ok"


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ("[[], {}]", 2),
        ('{"a": [{"b": [1]}]}', 4),
        ('["[[[[", "{{{{"]', 1),  # brackets inside strings do not count
        ('["\\"[[["]', 1),  # nor after an escaped quote
        ("[" * 10 + "]" * 10, 10),
        ("[" * 5, 5),  # unbalanced: the run of openers
        ("[{" * 15 + "}]" * 15, 30),  # alternating kinds: each pass removes one level, not one of each kind
        ('{"a": [{"b": [{"c": {}}]}]}', 6),
    ],
)
def test_nesting_depth_counts_structure_only(text: str, depth: int) -> None:
    assert nesting_depth(text, 32) == depth


def test_nesting_depth_stops_counting_past_the_limit() -> None:
    assert nesting_depth("[" * 100_000, 32) == 33
    assert nesting_depth("[" * 100_000 + "]" * 100_000, 32) == 33
    assert nesting_depth("[" * 32 + "]" * 32, 32) == 32
    assert nesting_depth("[{" * 50_000 + "}]" * 50_000, 32) == 33


def test_a_body_at_the_depth_limit_parses_and_one_deeper_does_not() -> None:
    at_limit = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert check_body(at_limit) == at_limit
    with pytest.raises(InvalidJson, match="nests deeper"):
        check_body(b"[" + at_limit + b"]")


def test_a_crafted_string_body_costs_linear_time_not_quadratic() -> None:
    # Unterminated strings after escaped quotes: a naive string regex rescans the rest of the body from every
    # quote. The check must finish (this would take minutes if quadratic); the answer is a parse error.
    with pytest.raises(InvalidJson, match="not valid JSON"):
        check_body(b'"' + b'\\"' * 400_000)
    with pytest.raises(InvalidJson, match="not valid JSON"):
        check_body(b'\\"' * 400_000)

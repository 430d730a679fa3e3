"""docs/copperx-compatibility.md stays true: the whole contract, once each, and "implemented" means served."""

from __future__ import annotations

import json
import re
from pathlib import Path

from contract import contract_path
from kassa.app import create_app
from kassa.config import Settings

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "docs" / "copperx-compatibility.md"
STATUSES = frozenset({"implemented", "planned", "not implemented"})
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# | GET | `/api/v1/assets` | `AssetController_findAll` | implemented | tests/test_payments_api.py |
ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| `([^`]+)` \| ([a-z ]+) \| (.+) \|$")
Operation = tuple[str, str]  # (method, path with every parameter written as {})


def shape(path: str) -> str:
    """`/customers/{id}` and `/customers/{customer_id}` are the same route."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def contract_operations() -> dict[Operation, str]:
    paths = json.loads(contract_path().read_text())["paths"]
    return {
        (method.upper(), shape(path)): op["operationId"]
        for path, ops in paths.items()
        for method, op in ops.items()
        if method in HTTP_METHODS
    }


def table_rows() -> list[tuple[str, str, str, str, str]]:
    rows = []
    for line in TABLE.read_text().splitlines():
        if line.startswith("| ") and not line.startswith(("| Method", "|---")):
            match = ROW.match(line)
            assert match, f"a table row the test cannot read: {line!r}"
            method, path, operation_id, status, proof = match.groups()
            rows.append((method, path, operation_id, status, proof.strip()))
    return rows


def app_routes(tmp_path: Path) -> set[Operation]:
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/routes.db", public_url="http://kassa.test"
    )
    spec = create_app(settings).openapi()
    return {(method.upper(), shape(path)) for path, ops in spec["paths"].items() for method in ops}


def test_every_contract_operation_appears_exactly_once() -> None:
    expected = contract_operations()
    listed = [(method, shape(path)) for method, path, *_ in table_rows()]
    duplicates = sorted({op for op in listed if listed.count(op) > 1})
    assert not duplicates, f"listed more than once: {duplicates}"
    assert set(listed) == set(expected), {
        "missing": sorted(set(expected) - set(listed)),
        "not in the contract": sorted(set(listed) - set(expected)),
    }
    assert len(listed) == 98


def test_each_row_names_its_operation_and_a_known_status() -> None:
    expected = contract_operations()
    for method, path, operation_id, status, proof in table_rows():
        assert expected[(method, shape(path))] == operation_id, path
        assert status in STATUSES, f"{method} {path}: unknown status {status!r}"
        assert proof, f"{method} {path}: says nothing about why"


def test_implemented_rows_are_routes_of_the_app_proven_by_an_existing_test(tmp_path: Path) -> None:
    routes = app_routes(tmp_path)
    implemented = [row for row in table_rows() if row[3] == "implemented"]
    assert implemented
    for method, path, _, _, proof in implemented:
        assert (method, shape(path)) in routes, f"{method} {path} is marked implemented but is not a route"
        test_file = ROOT / proof
        assert re.fullmatch(r"tests/[\w/]+\.py", proof), f"{method} {path}: name the test file, not {proof!r}"
        assert test_file.is_file(), f"{method} {path}: no test {proof!r}"
        resource = path.split("/")[3]  # /api/v1/<resource>/...
        assert resource in test_file.read_text(), f"{proof} never mentions {resource!r} ({method} {path})"


def test_rows_not_implemented_are_not_routes(tmp_path: Path) -> None:
    # A route that exists but is listed as planned means the table fell behind the code.
    routes = app_routes(tmp_path)
    stale = [f"{m} {p}" for m, p, _, status, _ in table_rows() if status != "implemented" and (m, shape(p)) in routes]
    assert not stale, f"served but not marked implemented: {stale}"


def test_rows_not_implemented_give_an_issue_or_a_reason() -> None:
    for method, path, _, status, proof in table_rows():
        if status == "planned":
            assert re.search(r"#\d+|issue to be filed", proof), f"{method} {path}: planned where?"
        if status == "not implemented":
            assert len(proof.split()) >= 5, f"{method} {path}: give the reason"

"""Tests for the Copperx contract helper in tests/contract.py (no kassa imports)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import contract
from contract import assert_matches_operation, assert_matches_schema

CUSTOMER_ID = "c3611c05-df51-4b47-b601-f2eac02f4ef0"


def customer(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": CUSTOMER_ID,
        "customerNumber": "CUS-0001",
        "name": "Ada",
        "email": "ada@example.com",
        "createdAt": "2024-05-01T12:00:00Z",
        "updatedAt": "2024-05-01T12:00:00.123456+02:00",
        "visibility": 10,
        "metadata": {"plan": "pro"},
        "address": {"line1": "1 Main St", "country": "US"},
        "taxIds": {"object": "list", "data": [{"id": "t1", "customerId": CUSTOMER_ID}]},
    }
    body.update(overrides)
    return body


def failure(body: Any, operation_id: str = "CustomerController_get") -> str:
    with pytest.raises(AssertionError) as excinfo:
        assert_matches_operation(body, operation_id)
    return str(excinfo.value)


@pytest.fixture(autouse=True)
def _real_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(contract.ENV_VAR, raising=False)


def test_contract_path_finds_shared_reference() -> None:
    path = contract.contract_path()
    assert path.is_file()
    assert path.name == "copperx-openapi.json"


def test_env_override_pointing_nowhere_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(contract.ENV_VAR, str(tmp_path / "missing.json"))
    with pytest.raises(FileNotFoundError, match=contract.ENV_VAR):
        contract.contract_path()


def test_valid_customer_passes() -> None:
    assert_matches_operation(customer(), "CustomerController_get")
    assert_matches_operation(customer(), "CustomerController_get", status=200)
    assert_matches_schema(customer(), "CustomerDto")


def test_missing_required_fields_are_all_named() -> None:
    body = customer()
    del body["id"], body["customerNumber"]
    message = failure(body)
    assert "'id' is a required property" in message
    assert "'customerNumber' is a required property" in message
    assert "2 violation(s)" in message


def test_violations_carry_json_paths() -> None:
    body = customer(address={"line1": 5}, taxIds={"data": [{"id": "t1"}]})
    message = failure(body)
    assert "$.address.line1: 5 is not of type" in message
    assert "$.taxIds.data[0]: 'customerId' is a required property" in message


@pytest.mark.parametrize("amount", [2500, "100000000", "-5", "0"])
def test_amount_may_be_number_or_numeric_string(amount: object) -> None:
    assert_matches_schema({"amount": amount, "couponId": "c1"}, "DiscountAmountDetailDto")


@pytest.mark.parametrize("amount", ["1.5", "abc", "", "5\n", "+5", True, 1.5])
def test_non_integer_amounts_fail(amount: object) -> None:
    with pytest.raises(AssertionError, match=r"\$\.amount"):
        assert_matches_schema({"amount": amount, "couponId": "c1"}, "DiscountAmountDetailDto")


@pytest.mark.parametrize("visibility", [10, 20, "10", "20"])
def test_numeric_string_enum_accepts_both_forms(visibility: object) -> None:
    assert_matches_operation(customer(visibility=visibility), "CustomerController_get")


@pytest.mark.parametrize("visibility", [30, "30", "Dashboard", 10.5])
def test_wrong_enum_value_fails(visibility: object) -> None:
    assert "$.visibility" in failure(customer(visibility=visibility))


@pytest.mark.parametrize("stamp", ["2024-13-01T00:00:00Z", "yesterday", "2024-05-01T12:00:00", "2024-05-01", ""])
def test_bad_date_time_fails(stamp: str) -> None:
    assert f"$.createdAt: '{stamp}' is not a 'date-time'" in failure(customer(createdAt=stamp))


@pytest.mark.parametrize("value", ["not-a-uuid", CUSTOMER_ID.replace("-", ""), "{" + CUSTOMER_ID + "}"])
def test_bad_uuid_fails(value: str) -> None:
    assert "$.id" in failure(customer(id=value))


def test_null_on_non_required_field_passes() -> None:
    body = customer(email=None, address=None, visibility=None, metadata=None, createdAt=None)
    assert_matches_operation(body, "CustomerController_get")


@pytest.mark.parametrize("field", ["id", "customerNumber"])
def test_null_on_required_field_fails(field: str) -> None:
    assert f"$.{field}: None is not of type" in failure(customer(**{field: None}))


def test_extra_properties_are_allowed() -> None:
    assert_matches_operation(customer(kassaOnly=True, address={"line1": "x", "geo": [1, 2]}), "CustomerController_get")


def test_unknown_operation_or_status_is_a_lookup_error() -> None:
    with pytest.raises(LookupError, match="NoSuchController_get"):
        assert_matches_operation({}, "NoSuchController_get")
    with pytest.raises(LookupError, match="418"):
        assert_matches_operation({}, "CustomerController_get", status=418)
    with pytest.raises(LookupError, match="NoSuchDto"):
        assert_matches_schema({}, "NoSuchDto")


def test_every_json_response_in_the_contract_compiles() -> None:
    path = contract.contract_path()
    doc = json.loads(path.read_text(encoding="utf-8"))
    compiled = 0
    for item in doc["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                if "application/json" in response.get("content", {}):
                    contract._operation_validator(path, operation["operationId"], int(status))
                    compiled += 1
    assert compiled > 90


# A hand-written OpenAPI 3.0 document for what the Copperx file happens not to use
# today: $ref (recursive), nullable $ref via allOf, additionalProperties and "default".
NODE = "#/components/schemas/Node"
MINI_DOC: dict[str, Any] = {
    "openapi": "3.0.0",
    "paths": {
        "/nodes/{id}": {
            "parameters": [],
            "get": {
                "operationId": "NodeController_get",
                "responses": {
                    "200": {"description": "", "content": {"application/json": {"schema": {"$ref": NODE}}}},
                    "default": {
                        "description": "",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"message": {"type": "string"}},
                                    "required": ["message"],
                                }
                            }
                        },
                    },
                },
            },
        }
    },
    "components": {
        "schemas": {
            "Node": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "parent"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "weight": {"type": "integer", "format": "int64", "minimum": 0},
                    "parent": {"nullable": True, "description": "up", "allOf": [{"$ref": NODE}]},
                    "sibling": {"$ref": NODE},
                    "children": {"type": "array", "items": {"$ref": NODE}},
                    "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            }
        }
    },
}


@pytest.fixture
def mini_contract(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "mini-openapi.json"
    path.write_text(json.dumps(MINI_DOC), encoding="utf-8")
    monkeypatch.setenv(contract.ENV_VAR, str(path))


def node(**overrides: Any) -> dict[str, Any]:
    return {"id": CUSTOMER_ID, "parent": None, **overrides}


@pytest.mark.usefixtures("mini_contract")
def test_recursive_refs_and_ignored_additional_properties_false() -> None:
    body = node(
        weight="42",
        extra="ok",
        sibling=None,
        children=[node(parent=node(), children=[node(tags={"a": "b"})])],
    )
    assert_matches_operation(body, "NodeController_get")
    assert_matches_schema(body, "Node")


@pytest.mark.usefixtures("mini_contract")
def test_errors_inside_recursive_and_nullable_refs_are_reported_by_path() -> None:
    body = node(sibling=node(id="nope"), parent=node(weight=-1), children=[node(children=[node(tags={"a": 5})])])
    with pytest.raises(AssertionError) as excinfo:
        assert_matches_operation(body, "NodeController_get")
    message = str(excinfo.value)
    assert "$.sibling.id: 'nope' is not a 'uuid'" in message
    assert "$.parent.weight: -1 is less than the minimum of 0" in message
    assert "$.children[0].children[0].tags.a: 5 is not of type 'string'" in message
    assert "3 violation(s)" in message


@pytest.mark.usefixtures("mini_contract")
def test_required_nullable_and_default_response() -> None:
    with pytest.raises(AssertionError, match="'parent' is a required property"):
        assert_matches_schema({"id": CUSTOMER_ID}, "Node")
    assert_matches_operation({"message": "gone"}, "NodeController_get", status=404)
    with pytest.raises(AssertionError, match=r"\$\.message: None is not of type"):
        assert_matches_operation({"message": None}, "NodeController_get", status=404)

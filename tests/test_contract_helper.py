"""Tests for the Copperx contract helper in tests/contract.py and the extract it reads (no kassa imports)."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import contract
from contract import assert_matches_operation, assert_matches_schema

CUSTOMER_ID = "c3611c05-df51-4b47-b601-f2eac02f4ef0"
ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "extract-contract"
# Copperx's own OpenAPI file: outside the repository, so only the freshness test below reads it, when it is there.
REFERENCE = Path(
    os.environ.get("KASSA_CONTRACT_REFERENCE") or ROOT.parent / "shared" / "reference" / "copperx-openapi.json"
)


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


def test_contract_is_read_from_the_extract_in_the_repository() -> None:
    path = contract.contract_path()
    assert path == ROOT / "tests" / "reference" / "copperx-contract.json"
    assert path.is_file()
    assert json.loads(path.read_text(encoding="utf-8"))["x-source"]["file"] == "copperx-openapi.json"


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


# ---------------------------------------------------------------------------------------------------------------
# The extract in tests/reference and scripts/extract-contract, which makes it


def load_script() -> ModuleType:
    """scripts/extract-contract as a module (it has no .py suffix, so it is loaded by path)."""
    loader = importlib.machinery.SourceFileLoader("extract_contract", str(SCRIPT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KASSA_CONTRACT_REFERENCE"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


# Keywords an extract may hold outside `properties` maps (whose keys are field names, "description" included).
EXTRACT_KEYWORDS = frozenset(
    {
        *("openapi", "x-source", "file", "sha256", "version", "paths", "components", "schemas", "securitySchemes"),
        *("get", "put", "post", "delete", "options", "head", "patch", "trace"),
        *("operationId", "parameters", "requestBody", "responses", "security", "content", "schema", "encoding"),
        *("name", "in", "required", "style", "explode", "deprecated", "allowEmptyValue", "scheme", "bearerFormat"),
        *("type", "format", "enum", "nullable", "default", "properties", "items", "allOf", "anyOf", "oneOf", "not"),
        *("$ref", "additionalProperties", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"),
        *("multipleOf", "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems"),
        *("minProperties", "maxProperties", "readOnly", "writeOnly", "discriminator", "propertyName", "mapping"),
    }
)
# Maps whose keys are names (of fields, paths, schemas, statuses, media types), not keywords.
NAME_MAPS = frozenset(
    {"properties", "paths", "schemas", "securitySchemes", "responses", "content", "encoding", "mapping"}
)
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def integrity_problems(doc: dict[str, Any]) -> list[str]:
    """What is wrong with an extract on its own terms: dangling $refs, prose left in, operations that cannot be
    looked up, path parameters that are not declared, required fields that are not properties."""
    problems: list[str] = []
    schemas = doc.get("components", {}).get("schemas", {})
    source = doc.get("x-source", {})
    if not re.fullmatch(r"[0-9a-f]{64}", str(source.get("sha256"))):
        problems.append("x-source.sha256 is not a SHA-256")

    def walk(node: Any, where: str, *, names: bool = False) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{where}/{i}")
            return
        if not isinstance(node, dict):
            return
        if not names:
            problems.extend(f"{where}: {key!r} is not structural" for key in node if key not in EXTRACT_KEYWORDS)
            ref = node.get("$ref")
            if ref is not None and not (
                isinstance(ref, str) and ref.startswith("#/components/schemas/") and ref.split("/")[-1] in schemas
            ):
                problems.append(f"{where}: $ref {ref!r} does not resolve")
            required = node.get("required")
            if isinstance(required, list) and isinstance(node.get("properties"), dict):
                problems.extend(
                    f"{where}: required {n!r} is no property" for n in required if n not in node["properties"]
                )
        for key, value in node.items():
            if names or key not in ("default", "enum", "security"):  # values (data), and scheme names
                walk(value, f"{where}/{key}", names=not names and key in NAME_MAPS)

    walk(doc, "")
    seen: dict[str, str] = {}
    for path, item in doc.get("paths", {}).items():
        declared_in_path = re.findall(r"{([^}]+)}", path)
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            where = f"{method.upper()} {path}"
            operation_id = operation.get("operationId")
            if not operation_id:
                problems.append(f"{where}: no operationId")
            elif operation_id in seen:
                problems.append(f"{where}: operationId {operation_id} also names {seen[operation_id]}")
            else:
                seen[operation_id] = where
            declared = [*item.get("parameters", []), *operation.get("parameters", [])]  # path-wide ones too
            params = {(p.get("name"), p.get("in"), p.get("required")) for p in declared}
            problems.extend(
                f"{where}: path parameter {name!r} is not declared as required"
                for name in declared_in_path
                if (name, "path", True) not in params
            )
    return problems


def test_extract_matches_the_reference_when_present_else_is_checked_for_integrity() -> None:
    """With Copperx's reference at hand (../shared/reference/copperx-openapi.json, or $KASSA_CONTRACT_REFERENCE), the
    extract must be byte for byte what scripts/extract-contract makes of it. On a checkout without the reference
    that cannot be checked, so the test checks instead that the extract is whole on its own (integrity_problems):
    never a silent pass either way."""
    text = contract.EXTRACT.read_text(encoding="utf-8")
    doc = json.loads(text)
    if not REFERENCE.is_file():
        assert integrity_problems(doc) == [], f"reference absent at {REFERENCE}: checked the extract's integrity"
        return
    reference_sha = hashlib.sha256(REFERENCE.read_bytes()).hexdigest()
    assert doc["x-source"]["sha256"] == reference_sha, "the reference changed: run scripts/extract-contract"
    made = run_script(str(REFERENCE), "-o", "-")
    assert made.returncode == 0, made.stderr
    assert made.stdout == text, "the extract is not what scripts/extract-contract makes: run it and commit the result"


def test_extract_is_whole_and_canonical() -> None:
    """Every $ref resolves, no prose is left, every operation can be looked up; and the file is in the script's
    canonical form (sorted keys, its layout), so regenerating it gives no noise in a diff."""
    text = contract.EXTRACT.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert integrity_problems(doc) == []
    assert load_script().render(doc) == text
    operations = [op for item in doc["paths"].values() for m, op in item.items() if m in HTTP_METHODS]
    assert len(operations) == 98
    assert len(doc["components"]["schemas"]) > 150


def test_integrity_check_names_each_defect() -> None:
    good = json.loads(contract.EXTRACT.read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(good))
    broken["x-source"]["sha256"] = "abc"
    customer_dto = broken["components"]["schemas"]["CustomerDto"]
    customer_dto["properties"]["address"] = {"$ref": "#/components/schemas/NoSuchDto", "description": "prose"}
    customer_dto["required"].append("ghost")
    one = broken["paths"]["/api/v1/customers/{id}"]["get"]
    one["parameters"] = [p for p in one["parameters"] if p["name"] != "id"]
    broken["paths"]["/api/v1/customers"]["get"]["operationId"] = "CustomerController_get"
    where = "/components/schemas/CustomerDto"
    assert sorted(integrity_problems(broken)) == sorted(
        [
            "x-source.sha256 is not a SHA-256",
            f"{where}/properties/address: 'description' is not structural",
            f"{where}/properties/address: $ref '#/components/schemas/NoSuchDto' does not resolve",
            f"{where}: required 'ghost' is no property",
            "GET /api/v1/customers/{id}: path parameter 'id' is not declared as required",
            "GET /api/v1/customers/{id}: operationId CustomerController_get also names GET /api/v1/customers",
        ]
    )
    assert integrity_problems(good) == []


def test_extract_keeps_the_facts_the_contract_checks_use() -> None:
    doc = json.loads(contract.EXTRACT.read_text(encoding="utf-8"))
    find_all = doc["paths"]["/api/v1/customers"]["get"]
    assert find_all["operationId"] == "CustomerController_findAll"
    assert find_all["security"] == [{"bearer": []}]
    params = {p["name"]: (p["in"], p["required"]) for p in find_all["parameters"]}
    assert params["page"] == ("query", False)
    assert params["createdAt"] == ("query", False)
    created_at = next(p for p in find_all["parameters"] if p["name"] == "createdAt")
    assert (created_at["style"], created_at["explode"]) == ("deepObject", True)
    customer_dto = doc["components"]["schemas"]["CustomerDto"]
    assert {"id", "customerNumber"} <= set(customer_dto["required"])
    assert customer_dto["properties"]["id"] == {"format": "uuid", "type": "string"}
    assert customer_dto["properties"]["visibility"]["enum"] == [10, 20]
    create = doc["paths"]["/api/v1/checkout/sessions"]["post"]
    assert create["requestBody"]["required"] is True
    submit_type = create["requestBody"]["content"]["application/json"]["schema"]["properties"]["submitType"]
    assert submit_type == {"default": "pay", "enum": ["pay", "book", "donate"], "type": "string"}
    webhook = doc["components"]["schemas"]["WebhookEndpointDto"]["properties"]
    assert webhook["description"] == {"type": "string"}  # a field named description is a fact, not prose


MINI_REFERENCE: dict[str, Any] = {
    "openapi": "3.0.0",
    "info": {"title": "Shop API", "description": "All about the shop.", "version": "v1.2.3", "contact": {"name": "x"}},
    "servers": [{"url": "https://api.example.com", "description": "Production"}],
    "tags": [{"name": "Things"}],
    "paths": {
        "/things/{id}": {
            "summary": "One thing",
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}, "example": "a"}
            ],
            "get": {
                "operationId": "ThingController_get",
                "summary": "Get a thing",
                "description": "Returns the thing.",
                "tags": ["Things"],
                "security": [{"bearer": []}],
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "description": "The id.",
                        "example": "abc",
                        "schema": {"type": "string", "format": "uuid", "example": "abc"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The thing.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                    },
                    "404": {"description": "Not found."},
                },
            },
            "post": {
                "operationId": "ThingController_update",
                "parameters": [],
                "requestBody": {
                    "required": True,
                    "description": "What to change.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                },
                "responses": {"201": {"description": "", "content": {}}},
                "x-internal": True,
            },
        }
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "x"}},
        "schemas": {
            "Thing": {
                "type": "object",
                "title": "Thing",
                "description": "A thing.",
                "required": ["id", "kind"],
                "properties": {
                    "id": {"type": "string", "format": "uuid", "description": "Its id.", "example": "abc"},
                    "kind": {"type": "string", "enum": ["big", "small"], "default": "small"},
                    "note": {"type": "string", "default": "Thanks for shopping with us!", "maxLength": 500},
                    "description": {"type": "string", "nullable": True, "description": "A field named description."},
                    "count": {"type": "number", "minimum": 0, "default": 1, "x-order": 3},
                    "parent": {"allOf": [{"$ref": "#/components/schemas/Thing"}], "description": "Up."},
                    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                },
            }
        },
    },
}
EXPECTED_EXTRACT: dict[str, Any] = {
    "openapi": "3.0.0",
    "paths": {
        "/things/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {
                "operationId": "ThingController_get",
                "security": [{"bearer": []}],
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
                ],
                "responses": {
                    "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                    "404": {},
                },
            },
            "post": {
                "operationId": "ThingController_update",
                "parameters": [],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                },
                "responses": {"201": {"content": {}}},
            },
        }
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        "schemas": {
            "Thing": {
                "type": "object",
                "required": ["id", "kind"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "kind": {"type": "string", "enum": ["big", "small"], "default": "small"},
                    "note": {"type": "string", "maxLength": 500},
                    "description": {"type": "string", "nullable": True},
                    "count": {"type": "number", "minimum": 0, "default": 1},
                    "parent": {"allOf": [{"$ref": "#/components/schemas/Thing"}]},
                    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                },
            }
        },
    },
}


def test_script_keeps_structure_and_drops_prose(tmp_path: Path) -> None:
    reference = tmp_path / "mini-openapi.json"
    raw = json.dumps(MINI_REFERENCE, indent=2).encode()
    reference.write_bytes(raw)
    out = tmp_path / "extract.json"
    made = run_script(str(reference), "-o", str(out))
    assert (made.returncode, made.stderr) == (0, "")
    text = out.read_text(encoding="utf-8")
    source = {"file": "mini-openapi.json", "sha256": hashlib.sha256(raw).hexdigest(), "version": "v1.2.3"}
    assert json.loads(text) == EXPECTED_EXTRACT | {"x-source": source}
    assert integrity_problems(json.loads(text)) == []
    # Deterministic: the same bytes again, keys sorted, leaves on one line.
    assert run_script(str(reference), "-o", "-").stdout == text
    assert text.startswith('{\n "components": {\n  "schemas": {\n   "Thing": {\n')
    assert '\n     "kind": {"default": "small", "enum": ["big", "small"], "type": "string"},\n' in text
    assert text.endswith("}\n")
    assert not text.endswith("\n\n")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (
            lambda doc: doc["components"]["schemas"]["Thing"].update({"if": {"type": "string"}}),
            "Thing: no rule for 'if'",
        ),
        (
            lambda doc: doc["paths"]["/things/{id}"]["get"]["responses"]["200"].update({"headers": {}}),
            "/responses/200: no rule for 'headers'",
        ),
        (lambda doc: doc["components"].update({"parameters": {}}), "/components: no rule for ['parameters']"),
        (lambda doc: doc["paths"]["/things/{id}"]["get"].update({"callbacks": {}}), "get: no rule for 'callbacks'"),
    ],
)
def test_script_refuses_what_it_has_no_rule_for(tmp_path: Path, change: Any, where: str) -> None:
    doc = json.loads(json.dumps(MINI_REFERENCE))
    change(doc)
    reference = tmp_path / "odd-openapi.json"
    reference.write_text(json.dumps(doc), encoding="utf-8")
    made = run_script(str(reference), "-o", str(tmp_path / "out.json"))
    assert made.returncode == 1
    assert where in made.stderr
    assert not (tmp_path / "out.json").exists()


def test_script_without_a_reference_says_so(tmp_path: Path) -> None:
    made = run_script(str(tmp_path / "missing.json"), "-o", "-")
    assert made.returncode == 1
    assert "missing.json" in made.stderr
    assert made.stdout == ""

"""Check Kassa API response bodies against the Copperx OpenAPI 3.0 contract.

The contract is read from tests/reference/copperx-contract.json: a structural extract of Copperx's OpenAPI file
(paths, operations, parameters, schemas; no prose) that `scripts/extract-contract` makes and
tests/test_contract_helper.py keeps in step with the reference. $KASSA_CONTRACT_PATH points elsewhere.

    assert_matches_operation(response.json(), "CustomerController_get")  # status=200
    assert_matches_schema(body, "CustomerDto")

Schemas are converted to JSON Schema draft 2020-12 and checked with jsonschema;
a failure raises AssertionError listing every violation with its JSON path.
OpenAPI-only keywords (example, description, deprecated, readOnly, writeOnly,
xml, externalDocs, discriminator) are dropped; nullable, single-member allOf
wrappers and recursion-safe ``$ref: #/components/schemas/X`` are handled. Enums
of numbers declared ``type: string`` (visibility [10, 20]) accept 10 or "10".

Deliberate Kassa/Copperx differences that are allowed:

(a) Amounts as strings: wherever number/integer is allowed, a string matching
    ^-?[0-9]+$ ("100000000", "-5") is accepted too; minimum/maximum are only
    checked for the numeric form.
(b) Explicit nulls: a non-required property may be null even if the contract
    does not say nullable; required ones only where it says nullable: true.
(c) Extra properties are allowed; additionalProperties: false is ignored
    (a schema-valued additionalProperties still checks map values).
(d) Formats are asserted: date-time must be ISO 8601 *with* a timezone, uuid
    a canonical hyphenated UUID. Other formats (int64, binary) are unchecked.
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

# jsonschema ships no type information; unused-ignore because pyproject's mypy
# override may already silence this, while a bare `mypy --strict` run does not.
import jsonschema  # type: ignore[import-untyped, unused-ignore]
from referencing import Registry
from referencing.jsonschema import DRAFT202012

ENV_VAR = "KASSA_CONTRACT_PATH"
EXTRACT = Path(__file__).resolve().parent / "reference" / "copperx-contract.json"
_BASE_URI = "urn:kassa:copperx-components"
_REF_PREFIX = "#/components/schemas/"
# \Z instead of $: jsonschema uses Python's re, where $ also matches before a trailing "\n".
_AMOUNT_PATTERN = r"^-?[0-9]+\Z"
_DROPPED = frozenset(
    {
        "example",
        "description",
        "deprecated",
        "readOnly",
        "writeOnly",
        "xml",
        "externalDocs",
        "discriminator",
        "nullable",
    }
)
_UNWRAPPABLE = _DROPPED | {"allOf", "default"}
_COMPOSITE = ("$ref", "allOf", "anyOf", "oneOf", "not")

Schema = dict[str, Any]


def contract_path() -> Path:
    """Return the contract file: $KASSA_CONTRACT_PATH, else the extract kept in the repository."""
    override = os.environ.get(ENV_VAR)
    if override:
        # An explicit override that points nowhere is a setup error; falling back
        # silently would validate against a contract the caller did not ask for.
        if not Path(override).is_file():
            raise FileNotFoundError(f"{ENV_VAR}={override!r} is not a file")
        return Path(override)
    return EXTRACT


@functools.cache
def _load(path: Path) -> Schema:
    with path.open(encoding="utf-8") as fh:
        doc: Schema = json.load(fh)
    return doc


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # non-strings are the type keyword's business
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    # A timestamp without an offset is ambiguous; date-only strings land here too.
    return parsed.tzinfo is not None


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        # uuid.UUID also accepts braces, "urn:uuid:" and unhyphenated hex; we don't.
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


# Only the formats we assert; jsonschema's own date-time check silently no-ops
# unless the optional rfc3339-validator package is installed.
_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("date-time")(_is_date_time)
_FORMATS.checks("uuid")(_is_uuid)


def _ref(ref: str) -> str:
    if not ref.startswith(_REF_PREFIX):
        raise ValueError(f"unsupported $ref {ref!r}: only {_REF_PREFIX}<name> is handled")
    return f"{_BASE_URI}#/$defs/{ref[len(_REF_PREFIX) :]}"


def _convert(node: Schema, nullable: bool = False) -> Schema:
    """Translate one OpenAPI 3.0 schema node; ``nullable`` forces null to be allowed."""
    nullable = nullable or node.get("nullable") is True
    members = node.get("allOf")
    if isinstance(members, list) and len(members) == 1 and set(node) <= _UNWRAPPABLE:
        # 3.0 ignores siblings of $ref, so generators wrap a lone $ref or object in
        # allOf just to attach a description; unwrapping keeps error paths readable.
        return _convert(members[0], nullable)
    out: Schema = {}
    for key, value in node.items():
        if key in _DROPPED or key.startswith("x-"):
            continue
        if key == "$ref":
            out[key] = _ref(value)
        elif key == "properties":
            required = set(node.get("required", ()))
            out[key] = {name: _convert(sub, name not in required) for name, sub in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = _convert(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [_convert(sub) for sub in value]
        elif key != "additionalProperties":  # boolean form dropped: extras are allowed (c)
            out[key] = value
    if "enum" in out:
        # Some enums list numbers under type: string; the enum alone is the real constraint.
        out.pop("type", None)
        enum = out["enum"]
        numbers = [str(v) for v in enum if isinstance(v, int | float) and not isinstance(v, bool)]
        out["enum"] = [*enum, *(v for v in numbers if v not in enum)]
    elif out.get("type") in ("number", "integer"):
        out["type"] = [out["type"], "string"]
        out["pattern"] = _AMOUNT_PATTERN  # only applies to the string form
    if not nullable:
        return out
    if any(key in out for key in _COMPOSITE):
        return {"anyOf": [{"type": "null"}, out]}
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    elif "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    return out


@functools.cache
def _registry(path: Path) -> Registry[Any]:
    schemas = _load(path).get("components", {}).get("schemas", {})
    resource = DRAFT202012.create_resource({"$defs": {n: _convert(s) for n, s in schemas.items()}})
    registry: Registry[Any] = Registry().with_resource(_BASE_URI, resource)
    return registry


def _compile(schema: Schema, path: Path) -> Any:
    converted = _convert(schema)
    jsonschema.Draft202012Validator.check_schema(converted)
    return jsonschema.Draft202012Validator(converted, registry=_registry(path), format_checker=_FORMATS)


@functools.cache
def _operation_validator(path: Path, operation_id: str, status: int) -> Any:
    operation = next(
        (
            op
            for item in _load(path).get("paths", {}).values()
            for op in item.values()
            if isinstance(op, dict) and op.get("operationId") == operation_id
        ),
        None,
    )
    if operation is None:
        raise LookupError(f"operationId {operation_id!r} not found in {path}")
    responses = operation.get("responses", {})
    key = next((k for k in (str(status), f"{status // 100}XX", "default") if k in responses), None)
    if key is None:
        raise LookupError(f"{operation_id} has no {status} response (has {sorted(responses)})")
    try:
        schema = responses[key]["content"]["application/json"]["schema"]
    except KeyError:
        raise LookupError(f"{operation_id} {key} response has no application/json schema") from None
    return _compile(schema, path)


@functools.cache
def _schema_validator(path: Path, schema_name: str) -> Any:
    schemas = _load(path).get("components", {}).get("schemas", {})
    if schema_name not in schemas:
        raise LookupError(f"schema {schema_name!r} not found in components.schemas of {path}")
    return _compile(schemas[schema_name], path)


def _describe(error: Any) -> Iterator[str]:
    if error.context:
        # anyOf failures (mostly our null wrappers) hide the real problem in context.
        for sub in error.context:
            if not (sub.validator == "type" and sub.validator_value == "null"):
                yield from _describe(sub)
        return
    message = error.message  # clipped: it embeds a repr of the (maybe huge) instance
    yield f"{error.json_path}: {message[:300] + '...' if len(message) > 300 else message}"


def _check(validator: Any, body: object, what: str) -> None:
    __tracebackhide__ = True  # let pytest point at the caller's assertion
    problems = sorted({line for error in validator.iter_errors(body) for line in _describe(error)})
    if problems:
        listing = "".join(f"\n  {p}" for p in problems)
        raise AssertionError(f"body does not match {what}; {len(problems)} violation(s):{listing}")


def assert_matches_operation(body: object, operation_id: str, status: int = 200) -> None:
    """Assert ``body`` matches the application/json response schema of an operation."""
    __tracebackhide__ = True
    _check(_operation_validator(contract_path(), operation_id, status), body, f"{operation_id} response {status}")


def assert_matches_schema(body: object, schema_name: str) -> None:
    """Assert ``body`` matches ``components.schemas[schema_name]``."""
    __tracebackhide__ = True
    _check(_schema_validator(contract_path(), schema_name), body, f"schema {schema_name}")

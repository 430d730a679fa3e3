"""The checks every JSON body passes before anything parses it for real, and the same rule for query parameters.

Why here, once, and before the parser: the standard JSON parser recurses in C, so a body of 100,000 nested `[`
overflows the C stack and kills the process (the dev chain's libraries raise the recursion limit far past what
the stack holds). The nesting depth is therefore measured without recursion first. The text rules (no control
characters, valid Unicode) are checked here for every string of every body, keys included, so no field of any
model can forget them: a NUL reaching PostgreSQL is a 500, and on SQLite it is stored and served back.

The rules, each answered with a 400 in the Copperx error shape:
- the body is UTF-8 JSON (a leading UTF-8 byte order mark is tolerated and dropped; UTF-16 and UTF-32 are not);
- it nests at most `MAX_DEPTH` arrays and objects deep;
- no object repeats a key (which of two values wins differs between parsers);
- no `NaN`, `Infinity` or number outside what a double holds;
- no string (key or value) holds a C0 control character, DEL, or a lone surrogate. Fields named `description`
  are multi-line text and may hold tab, line feed and carriage return.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from kassa.text import printable, text_problem

MAX_DEPTH = 32
UTF8_BOM = b"\xef\xbb\xbf"
MULTILINE_FIELDS = frozenset({"description"})
# A JSON string, escapes included; what is left after removing them holds the structure only. An unterminated
# string runs to the end of the text instead of failing, and the quantifiers are possessive: a failed match that
# rescans the rest of the body from every quote would make a crafted 1 MiB body cost minutes.
_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
# The escapes that can spell a control character or a surrogate, and DEL, which JSON lets stand unescaped (a
# false positive only costs the walk).
_SUSPECT_ESCAPE = re.compile(r"\\(?:u00[01]|u007[Ff]|u[Dd][89A-Fa-f]|[bfnrt])|\x7f")
# A percent-escape of a control character (%00-%1F, %7F) in a raw query string: the cheap test before parsing.
_ESCAPED_CONTROL = re.compile(rb"%(?:[01][0-9A-Fa-f]|7[Ff])")


class InvalidJson(ValueError):
    """The body breaks one of the rules; `message` names the field where there is one."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_body(body: bytes, max_depth: int = MAX_DEPTH) -> bytes:
    """Check a JSON body; returns it as the parser should see it (without a byte order mark)."""
    if body.startswith(UTF8_BOM):
        body = body[len(UTF8_BOM) :]
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(body) >= 2 and 0 in body[:2]):
        raise InvalidJson("body: must be UTF-8 encoded JSON (UTF-16 and UTF-32 are not accepted)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJson(f"body: is not valid UTF-8 (byte {exc.start})") from None
    depth = nesting_depth(text, max_depth)
    if depth > max_depth:
        raise InvalidJson(f"body: nests deeper than {max_depth} levels of arrays and objects")
    try:
        document = json.loads(
            text, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite_float
        )
    except _DuplicateKey as exc:
        raise InvalidJson(f"{exc.args[0]}: appears twice in the same object") from None
    except _NotANumber as exc:
        raise InvalidJson(f"body: {exc.args[0]} is not a finite JSON number") from None
    except RecursionError:  # cannot happen below MAX_DEPTH; kept so a future change fails safe, not with a 500
        raise InvalidJson(f"body: nests deeper than {max_depth} levels of arrays and objects") from None
    except ValueError as exc:  # JSONDecodeError, and integers longer than Python converts
        raise InvalidJson(f"body: is not valid JSON ({exc})") from None
    # Control characters (but DEL) and surrogates can only be in a valid document as escapes: none, no walk.
    if _SUSPECT_ESCAPE.search(text):
        for path, problem in _problems(document, ()):
            raise InvalidJson(f"{_name(path)}: {problem}")
    return body


def nesting_depth(text: str, limit: int) -> int:
    """How deep arrays and objects nest, counted up to `limit + 1`, without recursion.

    Strings are cut out first (they may hold brackets), then each pass removes the innermost empty pairs: a
    document of depth d is empty after d passes. Every step runs in C, so a 1 MiB body costs milliseconds.
    """
    structure = _STRING.sub("", text).encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKET)
    for depth in range(limit + 1):
        if not structure:
            return depth
        # One scan for both kinds of pair: two chained replaces could remove two levels in one pass.
        shorter = _EMPTY_PAIR.sub(b"", structure)
        if len(shorter) == len(structure):
            # Nothing to remove: brackets that do not pair up. The parser will say where; the depth is the run
            # of openers, which is what a hostile body is made of.
            return _opening_run(structure, limit)
        structure = shorter
    return limit + 1  # limit + 1 passes were needed, or more


def _opening_run(structure: bytes, limit: int) -> int:
    depth = deepest = 0
    for byte in structure:
        depth = depth + 1 if byte in b"[{" else depth - 1
        deepest = max(deepest, depth)
        if deepest > limit:
            break
    return deepest


class _DuplicateKey(ValueError):
    pass


class _NotANumber(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key[:60])
            seen.add(key)
    return out


def _no_constant(name: str) -> Any:
    raise _NotANumber(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotANumber(text[:40])
    return value


def _problems(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every string of the document, keys included, against the text rules.

    Only strings and containers are pushed (numbers, booleans and nulls in a long array cost one isinstance each),
    and a field's path is built only when it is pushed. A field named `description` is multi-line text unless it
    sits in metadata, whose values are free-form single-line strings.
    """
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            multiline = bool(where) and where[-1] in MULTILINE_FIELDS and "metadata" not in where
            if problem := text_problem(item, multiline=multiline):
                yield where, problem
        elif isinstance(item, dict):
            for key in item:
                if problem := text_problem(key):
                    yield (*where, printable(key)), problem + " (in the key)"
            # Pushed in reverse, so the first offending field in the document is the one reported.
            stack.extend((item[key], (*where, key)) for key in reversed(item) if isinstance(item[key], _WALKED))
        elif isinstance(item, list):
            stack.extend(
                (item[i], (*where, str(i))) for i in range(len(item) - 1, -1, -1) if isinstance(item[i], _WALKED)
            )


_WALKED = (str, dict, list)


def _name(path: tuple[str, ...]) -> str:
    return ".".join(path) if path else "body"


def query_problem(raw_query: bytes) -> str | None:
    """The first query parameter that holds a control character, as a field error; None when all are clean."""
    if not _ESCAPED_CONTROL.search(raw_query):
        return None
    for name, value in parse_qsl(raw_query.decode("latin-1"), keep_blank_values=True):
        if problem := text_problem(name):
            return f"{printable(name)}: {problem} (in the parameter's name)"
        if problem := text_problem(value):
            return f"{printable(name)}: {problem}"
    return None

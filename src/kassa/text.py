"""What text Kassa accepts, from any entry point (API bodies, query parameters, page forms).

No C0 control character (U+0000 to U+001F), no DEL and no lone surrogate: they have no meaning in a name, a code or
a URL, a NUL cannot be stored by PostgreSQL at all, and the others end up in headers, CSV files and terminals.
Multi-line fields (descriptions) may also hold tab, line feed and carriage return.
"""

from __future__ import annotations

import re

CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
CONTROL_CHARACTERS_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(text: str, *, multiline: bool = False) -> str | None:
    """Why `text` is refused, as the end of a field error ("must not contain control characters"), or None."""
    if not (CONTROL_CHARACTERS_MULTILINE if multiline else CONTROL_CHARACTERS).search(text):
        return None
    if _SURROGATE.search(text):
        return "must be valid Unicode text (it holds a lone surrogate)"
    return "must not contain control characters"


def printable(text: str, limit: int = 60) -> str:
    """`text` with its control characters shown as `?`, cut to `limit`: safe to echo in an error message."""
    return CONTROL_CHARACTERS.sub("?", text)[:limit]

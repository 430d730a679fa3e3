"""The interpreter's recursion limit, put back where the C stack can hold it.

Importing the Ethereum libraries (web3 and eth-account through py_ecc) raises the limit to 100,000 frames. Code
that recurses in C (the standard JSON parser, repr of nested containers) then overflows the 8 MiB stack before the
limit is reached and the process dies with a segfault instead of a RecursionError. py-evm itself asks for 12,288
frames (1,024 nested EVM calls), and at that limit a recursion in C still ends in a RecursionError, on the main
thread and on worker threads alike (measured: 12,000-deep JSON parses, 50,000-deep raises). Request bodies are
also depth-checked before parsing (kassa.api.strict_json); this is the second line.
"""

from __future__ import annotations

import sys

RECURSION_LIMIT = 12_288


def restore_recursion_limit() -> None:
    sys.setrecursionlimit(RECURSION_LIMIT)

"""The interpreter's recursion limit, put back after the imports that raise it.

``py_ecc`` (imported by web3 and eth-account) raises Python's recursion limit to 100,000 when it
is imported, and py-evm (the in-process chain) to 12,288. A limit that high no longer protects
anything: a C function that recurses once per level of its input (the ``json`` decoder, ``repr``,
``copy.deepcopy``, pickle) overflows the C stack long before it reaches the limit, and the process
dies of a segmentation fault instead of raising ``RecursionError`` (issue 14, finding 1: a JSON
body nested 100,000 deep). The services and the command line call :func:`restore_recursion_limit`
once they have imported what raises it; ``py_ecc`` raises it only on its first import, so it is
imported here first.

Nothing of ours needs more: py_ecc's pairing code (the only deep recursion it has) is not used by
signing or verifying transactions, and our contracts nest EVM calls a few levels deep, far from
the 1,024 frames py-evm makes room for.
"""

from __future__ import annotations

import sys

#: Three times CPython's default; a C-recursive function this deep needs well under the 8 MiB of
#: stack a thread gets on Linux.
RECURSION_LIMIT = 3000


def restore_recursion_limit(limit: int = RECURSION_LIMIT) -> int:
    """Lower the recursion limit to ``limit`` if an import raised it above; the limit now."""
    try:
        import py_ecc  # noqa: F401 - raises the limit on first import: import it before lowering
    except ImportError:  # only the in-process chain (the `embedded` extra) brings py_ecc
        pass

    if sys.getrecursionlimit() > limit:
        sys.setrecursionlimit(limit)
    return sys.getrecursionlimit()

"""The exit codes of every ``provenance`` verb, declared once.

Every verb exits **0** when it did what was asked and found nothing wrong, **2** when it could
not be done (unusable input, an unreadable key file, a service that cannot be reached or answers
something unexpected), and **1** for the verb's own "no" in between, named here per verb so a
reader of the verb sees which one it means. :func:`print_unusable` is how a verb that prints
for a person or, with ``--json``, for a script says why it exits 2.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # the CLI imports this module at start-up: rich only when something is printed
    from rich.console import Console

#: Done, and nothing wrong found.
EXIT_OK: Final = 0
#: Unusable input, key file or service: nothing could be decided (every verb, usage errors too).
EXIT_UNUSABLE: Final = 2

#: ``verify``, ``origin-proof``: every receipt and bundle checks out.
EXIT_VALID: Final = EXIT_OK
#: ``verify``, ``origin-proof``: a check failed (a mass-balance violation included).
EXIT_INVALID: Final = 1
#: ``check``: a verdict other than ``ok`` (unknown, suspect, recalled, expired, dispensed).
EXIT_WARNING: Final = 1
#: ``recall``, ``release``, ``codes``: the gateway refused (role, unknown lot, state, limits).
EXIT_REFUSED: Final = 1
#: ``alerts``: no alert matches.
EXIT_NONE: Final = EXIT_OK
#: ``alerts``: some alerts match (a script can alarm on it).
EXIT_SOME: Final = 1


def print_unusable(console: Console, message: str, *, as_json: bool = False) -> None:
    """``unusable <message>`` (red) for a person, ``{"error": message}`` for a script."""
    from rich.markup import escape

    if as_json:
        console.print_json(json.dumps({"error": message}))
    else:
        console.print(f"[red]unusable[/red] {escape(message)}")

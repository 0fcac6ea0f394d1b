"""Usage errors as one line: ``provenance alerts --kind clones`` answers

    provenance alerts: Invalid value for '--kind': ... 'clones' is not one of 'integrity', ...

on stderr with exit code 2, not typer's framed panel (a script's log keeps one line whole).
Typer vendors click as ``typer._click`` (0.2x); older releases use click itself.
"""

from __future__ import annotations

from typer import Abort

try:  # typer >= 0.20 carries its own click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - typer on the click package
    from click.exceptions import (  # type: ignore[assignment]
        ClickException,
        NoArgsIsHelpError,
        UsageError,
    )

__all__ = ["Abort", "ClickException", "NoArgsIsHelpError", "UsageError", "usage_error_line"]


def usage_error_line(exc: UsageError) -> str:
    """The command, what is wrong (a choice's allowed values included) and where help is."""
    command = exc.ctx.command_path if exc.ctx is not None else "provenance"
    message = " ".join(exc.format_message().replace("Value error, ", "").split())
    return f"{command}: {message} (see {command} --help)"

"""Progress for long verbs (``simulate``): rich bars on stderr while a person watches, nothing
when stderr is not a terminal (a script's log gets the result lines only)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class Counters:
    """One bar per kind of work, counting up (``report("events", 500)``)."""

    def __init__(self, progress: Progress, kinds: dict[str, str]) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {
            kind: progress.add_task(label, total=None) for kind, label in kinds.items()
        }

    def report(self, kind: str, count: int) -> None:
        task = self.tasks.get(kind)
        if task is not None:
            self.progress.advance(task, count)


@contextmanager
def counters(kinds: dict[str, str], console: Console | None = None) -> Iterator[Counters]:
    """Bars for ``kinds`` (kind -> label) while the block runs; transient on a terminal."""
    console = console or Console(stderr=True)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:>8,.0f}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with progress:
        yield Counters(progress, kinds)

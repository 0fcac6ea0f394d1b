"""Progress bars for long verbs: counted on a terminal, silent for a script."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from provenance.progress import counters


def test_bars_count_each_kind_on_a_terminal_and_stay_silent_otherwise() -> None:
    screen = StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100)
    with counters({"events": "events captured"}, terminal) as bars:
        bars.report("events", 500)
        bars.report("events", 250)
        bars.report("unknown", 1)  # not a bar: ignored
        (task,) = bars.progress.tasks
        assert task.completed == 750 and task.description == "events captured"
    assert "events captured" in screen.getvalue()
    log = StringIO()
    with counters({"events": "events captured"}, Console(file=log)) as bars:
        bars.report("events", 500)
    assert log.getvalue() == ""

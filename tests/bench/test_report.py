"""bench/report.write_section: a benchmark rewrites its own section (its current figures) and
leaves the rest; a new section goes before the hand-kept history."""

from __future__ import annotations

from pathlib import Path

from bench.report import write_section

PAGE = """# Benchmarks

## Current figures

summary

## Gas

old

## History

### Gas

older
"""


def test_a_section_is_replaced_and_a_new_one_goes_before_the_history(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text(PAGE, encoding="utf-8")
    write_section("Gas", "new", page)
    write_section("Faults", "found", page)
    assert page.read_text(encoding="utf-8") == PAGE.replace("\n\nold\n", "\n\nnew\n").replace(
        "## History", "## Faults\n\nfound\n\n## History"
    )

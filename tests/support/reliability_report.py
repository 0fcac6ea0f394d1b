"""A campaign's numbers: printed always, and written into docs/reliability.md when
``PROVENANCE_FAULTS_RECORD=1`` (``make faults RECORD=1``), one section per campaign."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from bench.report import machine_line, write_section

RELIABILITY = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


def record(title: str, command: str, rows: list[tuple[str, object]], notes: str = "") -> None:
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    body = (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine_line()}.\n\n"
        f"Command: `{command}` (part of `make faults`)\n\n"
        f"| measure | value |\n|---|---|\n{table}\n"
        + (f"\n{notes.strip()}\n" if notes.strip() else "")
    )
    print(f"\n## {title}\n\n{body}")
    if os.environ.get("PROVENANCE_FAULTS_RECORD") == "1":
        write_section(title, body, RELIABILITY)

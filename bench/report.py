"""Write one section of ``docs/benchmarks.md``, keeping the other sections as they are."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def machine_line() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        node = "absent"
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {model}; "
        f"Python {platform.python_version()}, Node {node}"
    )


def python_loop_seconds(steps: int = 10_000_000) -> float:
    """Seconds a plain Python loop of ``steps`` additions takes: the host's speed right now.

    Shared hosts drift (the same code has run 1.5 to 2 times slower an hour later); a figure
    beside this one can be compared with another run's."""
    started = time.perf_counter()
    total = 0
    for i in range(steps):
        total += i
    return time.perf_counter() - started


#: The page's last section: earlier runs, kept by hand. A new section goes before it.
HISTORY = "## History"


def write_section(title: str, body: str, path: Path = BENCHMARKS) -> None:
    """Replace (or add, before the history) the ``## title`` section of the benchmarks page
    with ``body``: the current figures. Earlier runs belong in ``## History``, by hand."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    section = f"## {title}\n\n{body.strip()}\n\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    history = re.search(rf"^{HISTORY}\n", text, re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    elif history is not None:
        text = text[: history.start()] + section + text[history.start() :]
    else:
        text = text.rstrip() + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip() + "\n", encoding="utf-8")

"""servicekit/lifeline.py: a child ends when its parent is killed with SIGKILL (issue 14,
Supervision: nothing is left orphaned; issue 21: the gateway's batcher process outlived a killed
gateway; `provenance up` killed left its ganache running). The parent is a real process, killed
as a segfault would end it: no ``finally`` runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from devkit.nodes import available
from tests.support.processes import alive, wait_gone

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    "kind",
    [
        "program",
        "process",
        "process-portable",
        "pool",
        pytest.param(
            "chain-node",
            marks=[
                pytest.mark.node,
                pytest.mark.skipif(not available("ganache"), reason="ganache is not installed"),
            ],
        ),
    ],
)
def test_a_child_ends_within_seconds_when_its_parent_is_killed(kind: str) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-m", "tests.support.lifeline_parent", kind],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())  # once started (ganache: answering)
    try:
        assert alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert wait_gone([child], timeout=10) == [], f"{kind} child {child} outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if alive(child):
            os.kill(child, signal.SIGKILL)

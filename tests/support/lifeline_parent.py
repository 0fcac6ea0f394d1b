"""A parent for tests/chain/test_lifeline.py: starts one child, prints its pid, and waits to be
killed. ``python -m tests.support.lifeline_parent KIND`` with KIND one of ``program`` (a
non-Python program under :func:`parent_death_signal`), ``process`` (a spawned multiprocessing
child that follows its parent), ``process-portable`` (the same without the kernel's help), and
``pool`` (a forkserver pool worker that follows its parent, as the indexer's do) and
``chain-node`` (`provenance up`'s ganache, in a temporary folder)."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from servicekit import lifeline


def _sleep_forever(kernel: bool) -> None:
    if not kernel:
        lifeline._prctl = lambda: None  # the portable watch alone
    lifeline.follow_parent()
    while True:
        time.sleep(1)


def _follow() -> None:
    lifeline.follow_parent()


def _pid() -> int:
    import os

    return os.getpid()


def main(kind: str) -> None:
    if kind == "program":
        child = subprocess.Popen(["sleep", "600"], preexec_fn=lifeline.parent_death_signal())
        pid = child.pid
    elif kind in ("process", "process-portable"):
        process = multiprocessing.get_context("spawn").Process(
            target=_sleep_forever, args=(kind == "process",)
        )
        process.start()
        pid = process.pid or 0
    elif kind == "pool":
        pool = ProcessPoolExecutor(1, multiprocessing.get_context("forkserver"), _follow)
        pid = pool.submit(_pid).result()
    elif kind == "chain-node":
        from devkit.nodes import free_port
        from provenance.up import local_chain  # not in the pool's forkserver: it is heavy

        folder = Path(tempfile.mkdtemp(prefix="lifeline-"))
        running = local_chain(folder, "127.0.0.1", free_port())  # held: never left
        pid = running.__enter__().process.pid
    else:
        raise SystemExit(f"unknown kind {kind}")
    print(pid, flush=True)
    time.sleep(600)


if __name__ == "__main__":
    main(sys.argv[1])

"""Child processes that die with their parent, however the parent dies.

A process that starts helpers (``provenance up`` its chain node, ``provenance gateway`` its batcher
process, the indexer its worker processes) stops them in a ``finally`` on a clean exit; a
segfault or a SIGKILL runs no ``finally``, and the helpers would run on as orphans (a chain node
holding its port and database, a batcher anchoring for a gateway that no longer exists). Two
mechanisms, each covering the other's gap:

- **Linux**: ``prctl(PR_SET_PDEATHSIG)`` asks the kernel to send the child a signal when the
  thread that started it exits, for whatever reason. It survives ``exec``, so it works for any
  program (:func:`parent_death_signal` for ``subprocess.Popen``), and it needs nothing of the
  parent. See prctl(2).
- **Everywhere**: a ``multiprocessing`` child holds its parent's sentinel, a pipe whose other end
  only the parent holds; end of file means the parent is gone. :func:`follow_parent` waits on it
  in a daemon thread.

The signal is SIGTERM, so a child that stops cleanly on SIGTERM (the batcher finishes its step,
ganache flushes its database) does so on its parent's death too.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait

log = logging.getLogger("provenance.lifeline")

#: prctl(2) option: the signal this process gets when its parent thread exits.
PR_SET_PDEATHSIG = 1
#: How long a child whose parent died may take to stop cleanly before it is ended.
GRACE_SECONDS = 10.0


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


def die_with_parent(signum: int = signal.SIGTERM) -> bool:
    """Ask the kernel for ``signum`` when this process's parent exits (Linux); False elsewhere."""
    prctl = _prctl()
    return prctl is not None and prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0


def parent_death_signal(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` for :class:`subprocess.Popen`: the program gets ``signum`` when the
    calling thread of this process exits (Linux; None elsewhere, where nothing is done).

    Start the child from a thread that lives as long as the process (the main thread): the
    kernel watches the thread, not the process. ``prctl`` is looked up before the fork, so the
    child runs no import or ``dlopen`` between fork and exec.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request: too late to ask
            os._exit(1)

    return preexec


def follow_parent(
    on_death: Callable[[], None] | None = None, grace_seconds: float = GRACE_SECONDS
) -> bool:
    """In a ``multiprocessing`` child: end this process when its parent dies.

    On Linux the kernel sends SIGTERM (:func:`die_with_parent`). On every platform a daemon
    thread waits on the parent's sentinel; when the parent is gone it calls ``on_death``
    (default: SIGTERM to this process, so its SIGTERM handler runs), and ends the process
    ``grace_seconds`` later if it is still running. True if the watch thread was started (the
    process has a ``multiprocessing`` parent).
    """
    die_with_parent(signal.SIGTERM)
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return False
    sentinel, pid = parent.sentinel, parent.pid

    def watch() -> None:
        wait([sentinel])
        log.warning("the parent process (pid %s) is gone: stopping", pid)
        if on_death is not None:
            on_death()
        else:
            os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()
    return True


def describe_exit(code: int | None) -> str:
    """``code 1`` or ``killed by SIGKILL`` from a returncode/exitcode (negative: a signal)."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"code {code}"

"""Run a uvicorn server so that a SIGTERM stops it *and* lets the caller clean up.

uvicorn catches SIGTERM, shuts the server down, restores the handler it found and raises the
signal again, so the process ends "as if" terminated. With the default handler that ends the
process at once: the caller's ``finally`` (stop the service, end the batcher process, remove a
temporary folder) never runs and the exit status is 143. A handler that only notes the signal
(and asks the server to exit, should it come before uvicorn installed its own) lets the caller
finish and exit 0, which is what a supervisor expects of a clean stop.
"""

from __future__ import annotations

import signal
import threading

import uvicorn


def serve_until_stopped(server: uvicorn.Server) -> bool:
    """Run ``server`` until it exits; True when a SIGTERM stopped it."""
    terminated = threading.Event()

    def note(_signum: int, _frame: object) -> None:
        terminated.set()
        server.should_exit = True

    if threading.current_thread() is not threading.main_thread():
        server.run()  # signals reach the main thread only; nothing to arrange here
        return False
    previous = signal.signal(signal.SIGTERM, note)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return terminated.is_set()

"""Why a service cannot start, said in one line (exit code 2): a port already in use, checked
before anything starts; a database that does not answer (its URL with the password masked); an
invalid setting. Used by ``provenance up``, ``provenance gateway`` and ``provenance indexer``.
"""

from __future__ import annotations

import socket

from pydantic import ValidationError as SettingsError
from sqlalchemy.exc import DBAPIError

from servicekit.logs import redact


def port_in_use(host: str, port: int) -> bool:
    """Whether something listens on ``host:port`` already (as uvicorn binds: SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def port_taken(host: str, port: int, what: str, option: str) -> str | None:
    """One line if ``port`` on ``host`` is taken, naming the part and the option to change."""
    if not port_in_use(host, port):
        return None
    return f"port {port} on {host} (the {what}) is in use: stop what listens there or pass {option}"


def start_failure(exc: BaseException, database_url: str | None) -> str:
    """Why the network cannot start, in one line (no traceback, no password)."""
    if isinstance(exc, SettingsError):
        errors = exc.errors()
        if not errors:
            return f"invalid settings: {exc}"
        where = ".".join(str(p) for p in errors[0]["loc"]) or "settings"
        return f"invalid setting {where}: {errors[0]['msg']}"
    if isinstance(exc, DBAPIError):
        lines = str(exc.orig or exc).strip().splitlines()
        where = f" at {redact(database_url)}" if database_url else ""
        return f"the database{where} does not answer: {lines[0] if lines else type(exc).__name__}"
    return redact(" ".join(str(exc).split()))

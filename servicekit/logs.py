"""Logs: JSON lines (or plain text) on stderr, every record carrying the request it belongs to.

Only the edges configure logging (``provenance gateway``, ``provenance indexer``, the batcher
process call :func:`configure_logging`); libraries just use ``logging.getLogger(...)``. The HTTP
middleware of both services puts each request's id (``X-Request-ID``, or a new one) in
:data:`request_id` for the request's duration, so every record logged while serving it (in the
event loop or in the thread pool: both copy the context) carries it.

Secrets are kept out: API keys (``pk_…``, ``ik_…``) keep only their public prefix, passwords in
URLs are masked, and extra fields named like a secret are replaced. Headers are never logged.
"""

from __future__ import annotations

import json as _json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

#: The id of the HTTP request being served (None outside a request: the batcher, the follower).
request_id: ContextVar[str | None] = ContextVar("provenance_request_id", default=None)

_VALID_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_API_KEY = re.compile(r"\b(pk|ik)_([0-9a-f]{12})_[a-z2-7]{8,}")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
_SECRET_NAMES = ("password", "secret", "api_key", "apikey", "authorization", "token", "seed")
_REDACTED = "[redacted]"
#: Attributes every LogRecord has; anything else was passed with ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "color_message",  # uvicorn's coloured copy of the message
}
_HANDLER_MARK = "_provenance_handler"


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: str | None) -> str | None:
    """A client's ``X-Request-ID`` if it is a sane token (no spaces, quotes or newlines that
    could forge log lines; at most 128 characters), else None."""
    if value and _VALID_ID.fullmatch(value):
        return value
    return None


def redact(text: str) -> str:
    """``text`` with API keys cut to their public prefix and passwords in URLs masked."""
    text = _API_KEY.sub(lambda m: f"{m.group(1)}_{m.group(2)}_{_REDACTED}", text)
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{_REDACTED}@", text)


def _is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(s in lowered for s in _SECRET_NAMES)


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` (None outside a request) for the formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            if _is_secret_name(key):
                payload[key] = _REDACTED
            elif isinstance(value, str):
                payload[key] = redact(value)
            else:
                payload[key] = value
        if record.exc_info:
            payload["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            payload["stack"] = redact(self.formatStack(record.stack_info))
        return _json.dumps(payload, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time level logger [request id]: message`` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(rid)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None)
        record.__dict__["rid"] = f" [{rid}]" if rid else ""
        try:
            return redact(super().format(record))
        finally:
            del record.__dict__["rid"]


def configure_logging(
    *, json: bool, level: int | str = logging.INFO, stream: IO[str] | None = None
) -> logging.Handler:
    """Log every record to ``stream`` (stderr) as JSON lines (``json=True``) or text.

    Replaces the handler an earlier call installed (not others'); uvicorn's loggers lose their
    own handlers and propagate here, so its start-up and error lines are structured too. The
    services log one line per request themselves (logger ``provenance.http``), so run uvicorn
    with ``access_log=False`` and ``log_config=None``.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _HANDLER_MARK, False):
            root.removeHandler(existing)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    handler.addFilter(RequestIdFilter())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    return handler


def wants_json(log_format: str, stream: IO[str] | None = None) -> bool:
    """``auto``: JSON unless ``stream`` (stderr) is a terminal; ``json`` or ``text`` as said."""
    if log_format == "auto":
        target = stream or sys.stderr
        return not (hasattr(target, "isatty") and target.isatty())
    return log_format == "json"

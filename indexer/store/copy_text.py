"""Rows as PostgreSQL ``COPY ... FROM STDIN`` text, made where no connection is.

The indexer's worker processes turn each event's rows into ``COPY`` lines while they prepare a
batch, so the follower (the one thread that writes, in chain order) only concatenates the lines
of the events it keeps and sends them: no per-row formatting on its thread, and a prepared batch
crosses between processes as a few byte strings instead of thousands of tuples.

Format (PostgreSQL manual, ``COPY``, "Text Format"): columns separated by a tab, a row ended by
a newline, ``\\N`` for NULL; a backslash, newline, carriage return or tab inside a value is
written as ``\\\\``, ``\\n``, ``\\r``, ``\\t``. ``bytea`` goes in its hex form (``\\x...``, its
backslash doubled), timestamps in ISO 8601 with their offset (naive ones are refused: the index
keeps aware UTC times), numbers as Python writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast


def escape_text(value: str) -> str:
    if value.isprintable() and "\\" not in value:
        return value  # the usual value: nothing to escape (tab, newline, CR, NUL print not)
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if "\n" in value:
        value = value.replace("\n", "\\n")
    if "\r" in value:
        value = value.replace("\r", "\\r")
    if "\t" in value:
        value = value.replace("\t", "\\t")
    if "\x00" in value:
        raise ValueError("PostgreSQL text cannot hold a NUL character")
    return value


def _bytea(value: bytes) -> str:
    return "\\\\x" + value.hex()


def timestamp_text(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the index keeps UTC-aware timestamps")
    return value.isoformat()


def _number(value: int | Decimal) -> str:
    return str(value)


_FORMATS: dict[type, Callable[[Any], str]] = {
    str: escape_text,
    bytes: _bytea,
    int: _number,
    Decimal: _number,
    datetime: timestamp_text,
}


def copy_field(value: object) -> str:
    """One column value as ``COPY`` text."""
    if value is None:
        return "\\N"
    try:
        return _FORMATS[type(value)](value)
    except KeyError:
        raise TypeError(f"no COPY text form for {type(value).__name__}: {value!r}") from None


def copy_line(row: Sequence[object]) -> str:
    """One row as a ``COPY`` text line (newline included)."""
    fields: list[str] = []
    add = fields.append
    for value in row:  # the usual types inline (a worker writes a million lines a catch-up)
        kind = type(value)
        if value is None:
            add("\\N")
        elif kind is str:
            add(escape_text(cast(str, value)))
        elif kind is int:
            add(str(value))
        elif kind is bytes:
            add("\\\\x" + cast(bytes, value).hex())
        else:
            add(copy_field(value))
    return "\t".join(fields) + "\n"


def copy_lines(rows: Iterable[Sequence[object]]) -> bytes:
    """Rows as ``COPY`` text, UTF-8 encoded."""
    return "".join([copy_line(row) for row in rows]).encode("utf-8")

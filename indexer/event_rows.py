"""The rows of one verified event (its ``ix_events`` row and its ``ix_event_items`` rows), as
tuples (for SQLAlchemy) or as PostgreSQL ``COPY`` text.

The indexer's worker processes build them for every event of a catch-up, so the ``COPY`` text
is written here with each column's type known (:func:`event_line`, :func:`item_lines`) rather
than by :func:`indexer.store.copy_text.copy_line`'s dispatch on each value's type; both give
the same text (``tests/indexer/test_event_rows.py``).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from indexer.projection import event_party
from indexer.store.copy_text import escape_text, timestamp_text
from indexer.verification import AnchorFacts
from medledger.epcis.normalise import NormalisedEvent

Row = tuple[Any, ...]

ITEM_ROLES = (
    ("epcs", "epc"),
    ("child_epcs", "child"),
    ("input_epcs", "input"),
    ("output_epcs", "output"),
)
QUANTITY_ROLES = (
    ("quantities", "quantity"),
    ("input_quantities", "input_quantity"),
    ("output_quantities", "output_quantity"),
)

_EXACT = json.JSONEncoder(
    separators=(",", ":"), sort_keys=True, ensure_ascii=False, check_circular=False
)


def raw_json(event: dict[str, Any]) -> str:
    """The event as the index keeps it: JSON, keys sorted, no spaces, UTF-8 characters as they
    are. orjson writes it (about ten times faster than :mod:`json`), except where it would not
    write back what :func:`json.loads` read: an integer past 64 bits (it refuses) and NaN or
    an infinity (it writes ``null``; so any ``null`` sends the event to :mod:`json`)."""
    try:
        out = orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return _EXACT.encode(event)
    if b"null" in out:
        return _EXACT.encode(event)
    return out.decode("utf-8")


def item_rows(ev: NormalisedEvent, event_hash: bytes, seq: int, block: int) -> list[Row]:
    """Rows of :data:`indexer.store.writes.ITEM_COLUMNS`, one per (identifier, role)."""
    rows: dict[tuple[str, str], Row] = {}

    def add(identifier: str, role: str, quantity: Any = None, uom: str | None = None) -> None:
        if (identifier, role) not in rows:
            rows[(identifier, role)] = (identifier, seq, role, event_hash, block, quantity, uom)

    for name, role in ITEM_ROLES:
        for identifier in getattr(ev, name):
            add(identifier, role)
    if ev.parent_id is not None:
        add(ev.parent_id, "parent")
    for name, role in QUANTITY_ROLES:
        for q in getattr(ev, name):
            add(
                q.class_id,
                "child_quantity" if ev.type == "AggregationEvent" else role,
                q.quantity,
                q.uom,
            )
    return list(rows.values())


def event_row(
    ev: NormalisedEvent,
    event_hash: bytes,
    salt: bytes,
    event: dict[str, Any],
    seq: int,
    facts: AnchorFacts,
) -> Row:
    """A row of :data:`indexer.store.writes.EVENT_COLUMNS`."""
    return (
        event_hash,
        seq,
        facts.block_number,
        facts.root,
        facts.submitter,
        salt,
        ev.type,
        ev.action,
        ev.biz_step,
        ev.disposition,
        ev.event_time,
        ev.read_point,
        ev.biz_location,
        event_party(ev.sources),
        event_party(ev.destinations),
        raw_json(event),
    )


def _maybe(value: str | None) -> str:
    return "\\N" if value is None else escape_text(value)


def event_line(row: Row) -> bytes:
    """:func:`event_row`'s row as a ``COPY`` text line."""
    (event_hash, seq, block, root, submitter, salt, kind, action, biz_step, disposition,
     event_time, read_point, biz_location, source, destination, raw) = row  # fmt: skip
    text = escape_text
    return (
        f"\\\\x{event_hash.hex()}\t{seq:d}\t{block:d}\t\\\\x{root.hex()}\t{text(submitter)}\t"
        f"\\\\x{salt.hex()}\t{text(kind)}\t{_maybe(action)}\t{_maybe(biz_step)}\t"
        f"{_maybe(disposition)}\t{timestamp_text(event_time)}\t{_maybe(read_point)}\t"
        f"{_maybe(biz_location)}\t{_maybe(source)}\t{_maybe(destination)}\t{_json_text(raw)}\n"
    ).encode()


def _json_text(raw: str) -> str:
    # JSON as raw_json writes it holds no tab, newline, carriage return or NUL (both
    # encoders escape every control character): only its backslashes need doubling.
    return raw.replace("\\", "\\\\") if "\\" in raw else raw


def item_lines(rows: list[Row]) -> bytes:
    """:func:`item_rows`' rows as ``COPY`` text lines."""
    out = []
    for identifier, seq, role, event_hash, block, quantity, uom in rows:
        amount = "\\N" if quantity is None else str(quantity)
        out.append(
            f"{escape_text(identifier)}\t{seq:d}\t{escape_text(role)}\t\\\\x{event_hash.hex()}\t{block:d}\t"
            f"{amount}\t{_maybe(uom)}\n"
        )
    return "".join(out).encode("utf-8")

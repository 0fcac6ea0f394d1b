"""The rows of one verified event (its ``ix_events`` row, its ``ix_event_items`` rows and its
``ix_event_ilmd`` rows), as tuples (for SQLAlchemy) or as PostgreSQL ``COPY`` text.

The indexer's worker processes build them for every event of a catch-up, so the ``COPY`` text
is written here with each column's type known (:func:`event_line`, :func:`item_lines`) rather
than by :func:`indexer.store.copy_text.copy_line`'s dispatch on each value's type; both give
the same text (``tests/indexer/test_event_rows.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from indexer.projection import event_party
from indexer.store.copy_text import escape_text, timestamp_text
from indexer.store.models import ILMD_TEXT
from indexer.verification import AnchorFacts
from medledger.epcis.normalise import NormalisedEvent
from medledger.epcis.query_match import stored_value

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


def ilmd_rows(event: Mapping[str, Any], seq: int, block: int) -> list[Row]:
    """Rows of :data:`indexer.store.writes.ILMD_COLUMNS`, one per field of the event's
    ``ilmd`` (as captured), its value as the query's comparisons read it
    (:class:`indexer.store.models.EventIlmdRow`); none if the event has no ``ilmd`` object."""
    ilmd = event.get("ilmd")
    if not isinstance(ilmd, Mapping):
        return []
    rows: list[Row] = []
    for name, value in ilmd.items():
        if not isinstance(name, str):
            continue
        have = stored_value(value)
        text = number = moment = None
        if have is None:
            kind = "other"
        else:
            text = str(have)
            if len(text) > ILMD_TEXT:
                text = None
            if isinstance(have, Decimal):
                kind, number = "number", _double(have)
            elif isinstance(have, datetime):
                kind, moment = "time", _utc(have)
            else:
                kind = "text"
        rows.append((seq, name, block, kind, text, number, moment))
    return rows


def _double(number: Decimal) -> float | None:
    """A number as a double (correctly rounded, so order is kept); None for NaN (SQLite
    cannot store it; the SQL conditions let a None through)."""
    out = float(number)
    return None if out != out else out


def _utc(moment: datetime) -> datetime | None:
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # the year 1 at +06:00, 9999 at -06:00: let the SQL let it through
        return None


def ilmd_lines(rows: list[Row]) -> bytes:
    """:func:`ilmd_rows`' rows as ``COPY`` text lines (doubles as ``repr`` writes them, which
    PostgreSQL reads back the same, ``inf`` included)."""
    out = []
    for seq, name, block, kind, text, number, moment in rows:
        number_text = "\\N" if number is None else repr(number)
        moment_text = "\\N" if moment is None else timestamp_text(moment)
        out.append(
            f"{seq:d}\t{escape_text(name)}\t{block:d}\t{kind}\t{_maybe(text)}\t"
            f"{number_text}\t{moment_text}\n"
        )
    return "".join(out).encode("utf-8")

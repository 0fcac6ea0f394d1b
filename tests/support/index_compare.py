"""Two indexes compared table by table: one that lived through reorganisations, restarts or
kills, and one built from nothing on the final chain.

The promise (docs/indexer.md, "What a rollback guarantees") is that they are row for row the
same. :func:`index_snapshot` reads every table of the indexer's models (enumerated from
``indexer.store.models.Base.metadata``, so a table added later is compared without anyone
remembering to add it here) as plain, comparable values; :func:`assert_same_index` fails with
a readable diff, table by table: rows only one index holds, and rows both hold (same primary
key) with the columns that differ.

Only what legitimately differs between a live and a fresh index is left out, each with its
reason (:data:`NOT_COMPARED`, :data:`NOT_COMPARED_COLUMNS`, :data:`PARTIAL`). The indexer has
no surrogate counters and stores no wall-clock time (keys are hashes, identifiers and chain
positions, times are eventTimes and block timestamps), so no column is left out today: a
column added later that depends on when or in which order an index was built makes the
comparison fail until it is listed there, with its reason.

Usage (the fault campaigns do the same with their own engines)::

    assert_same_index(live.engine, fresh.engine)        # or snapshots taken earlier
    assert_same_index(without_sweep_alerts(index_snapshot(running)), fresh.engine)

The second form is for an indexer that ran as a service: its expiry sweep derives alerts from
the date (:data:`SWEEP_ALERTS`), which an index that only caught up has not swept.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, Table, inspect, select

from indexer.store.models import Base

Row = tuple[Any, ...]
Snapshot = dict[str, list[Row]]

#: Tables left out entirely, and why.
NOT_COMPARED: Mapping[str, str] = {
    "ix_api_keys": "reader keys are issued per index (a random bootstrap key), not read from "
    "the chain",
    "ix_key_audit": "what was done to those keys, not read from the chain",
    "ix_participant_profiles": "names and regions come from the gateway's participant list "
    "(indexer/profiles.py), not from the chain",
    "ix_web_sessions": "the dashboard's signed-in sessions, not read from the chain",
    "ix_alert_triage": "a regulator's triage of the alerts (dashboard/triage.py), keyed by the "
    "alert's natural key so that it outlives a rollback, not read from the chain",
    "ix_alert_triage_log": "what was done in that triage, by whom and when",
}

#: Columns left out of a compared table (table: {column: why}). None today: see the module
#: docstring.
NOT_COMPARED_COLUMNS: Mapping[str, Mapping[str, str]] = {}

#: Tables compared only on the rows both indexes hold (same primary key), and why.
PARTIAL: Mapping[str, str] = {
    "ix_blocks": "the index remembers every block it committed a checkpoint at; a live index "
    "committed at more (or other) blocks than a fresh one. The blocks both remember must "
    "agree, and the blocks with logs are compared through the rows derived from them",
}

#: The indexer's tables are named ``ix_*`` (it may share a database with the gateway); the
#: migrations' bookkeeping is the one of them the models do not describe.
PREFIX = "ix_"
NOT_MODELLED = frozenset({"ix_alembic_version"})

#: Alerts of the expiry sweep (``indexer.detection.expiry``): derived from the date, not the
#: chain, by a running indexer (never by ``catch_up``); each index holds those of its last sweep.
SWEEP_ALERTS = frozenset({"expired-in-stock", "expiring-soon"})

#: Rows shown per table and kind of difference in a diff.
SHOWN = 8


def compared_tables() -> list[Table]:
    """The models' tables that are compared (all but :data:`NOT_COMPARED`), in name order."""
    return sorted(
        (t for t in Base.metadata.tables.values() if t.name not in NOT_COMPARED),
        key=lambda t: t.name,
    )


def compared_columns(table: Table) -> list[str]:
    skipped = NOT_COMPARED_COLUMNS.get(table.name, {})
    return [c.name for c in table.columns if c.name not in skipped]


def _plain(value: Any) -> Any:
    """A value as both dialects give it back (PostgreSQL and SQLite differ in types)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


def _order(row: Row) -> tuple[tuple[int, Any], ...]:
    """A sort key that never compares None with a value."""
    return tuple((1, "") if v is None else (0, v) for v in row)


def _unmodelled(engine: Engine) -> list[str]:
    """Tables and columns of the database that the models do not describe (they could not be
    compared: the models are what is read)."""
    out: list[str] = []
    inspector = inspect(engine)
    names = {n for n in inspector.get_table_names() if n.startswith(PREFIX)}
    for name in sorted(names - NOT_MODELLED):
        table = Base.metadata.tables.get(name)
        if table is None:
            out.append(f"table {name} is not in indexer.store.models")
            continue
        extra = {c["name"] for c in inspector.get_columns(name)} - set(table.columns.keys())
        out.extend(f"column {name}.{c} is not in indexer.store.models" for c in sorted(extra))
    return out


def index_snapshot(engine: Engine) -> Snapshot:
    """Every compared table, every row (compared columns, in model order), as plain values,
    sorted; fails if the database holds a table or column the models do not describe."""
    unmodelled = _unmodelled(engine)
    if unmodelled:
        raise AssertionError("the index cannot be compared: " + "; ".join(unmodelled))
    out: Snapshot = {}
    with engine.connect() as conn:
        for table in compared_tables():
            columns = [table.c[name] for name in compared_columns(table)]
            rows = conn.execute(select(*columns))
            out[table.name] = sorted((tuple(_plain(v) for v in row) for row in rows), key=_order)
    return out


def without_sweep_alerts(snapshot: Snapshot) -> Snapshot:
    """``snapshot`` without the expiry sweep's alerts (:data:`SWEEP_ALERTS`), to compare an
    indexer that ran (and swept) with one that only caught up."""
    kind = compared_columns(Base.metadata.tables["ix_alerts"]).index("kind")
    alerts = [row for row in snapshot["ix_alerts"] if row[kind] not in SWEEP_ALERTS]
    return {**snapshot, "ix_alerts": alerts}


def _key_positions(table: Table) -> list[int]:
    names = compared_columns(table)
    return [names.index(c.name) for c in table.primary_key.columns]


def _show(names: list[str], row: Row) -> str:
    return ", ".join(f"{n}={_short(v)}" for n, v in zip(names, row, strict=True))


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _table_differences(table: Table, live: list[Row], fresh: list[Row]) -> list[str]:
    names = compared_columns(table)
    keys = _key_positions(table)

    def key(row: Row) -> Row:
        return tuple(row[i] for i in keys)

    live_by_key = {key(r): r for r in live}
    fresh_by_key = {key(r): r for r in fresh}
    partial = table.name in PARTIAL
    only_live = [] if partial else [r for k, r in live_by_key.items() if k not in fresh_by_key]
    only_fresh = [] if partial else [r for k, r in fresh_by_key.items() if k not in live_by_key]
    changed = [
        (live_by_key[k], fresh_by_key[k])
        for k in live_by_key.keys() & fresh_by_key.keys()
        if live_by_key[k] != fresh_by_key[k]
    ]
    if not (only_live or only_fresh or changed):
        return []
    lines = [
        f"{table.name}: {len(live)} rows live, {len(fresh)} fresh; {len(only_live)} only live, "
        f"{len(only_fresh)} only fresh, {len(changed)} differ"
    ]
    for label, rows in (("only live ", only_live), ("only fresh", only_fresh)):
        for row in sorted(rows, key=_order)[:SHOWN]:
            lines.append(f"  {label}: {_show(names, row)}")
        if len(rows) > SHOWN:
            lines.append(f"  {label}: ... {len(rows) - SHOWN} more")
    for a, b in sorted(changed, key=lambda pair: _order(pair[0]))[:SHOWN]:
        where = ", ".join(f"{names[i]}={_short(a[i])}" for i in keys)
        diffs = "; ".join(
            f"{n}: live {_short(x, 40)} != fresh {_short(y, 40)}"
            for n, x, y in zip(names, a, b, strict=True)
            if x != y
        )
        lines.append(f"  differs ({where}): {diffs}")
    if len(changed) > SHOWN:
        lines.append(f"  differs: ... {len(changed) - SHOWN} more")
    return lines


def index_differences(live: Snapshot | Engine, fresh: Snapshot | Engine) -> list[str]:
    """The differences between two indexes, table by table, as lines (none: the same)."""
    a = live if isinstance(live, dict) else index_snapshot(live)
    b = fresh if isinstance(fresh, dict) else index_snapshot(fresh)
    lines: list[str] = []
    for table in compared_tables():
        lines.extend(_table_differences(table, a.get(table.name, []), b.get(table.name, [])))
    return lines


def assert_same_index(live: Snapshot | Engine, fresh: Snapshot | Engine, context: str = "") -> None:
    """Fail, with the differences table by table, unless the two indexes hold the same rows."""
    lines = index_differences(live, fresh)
    if lines:
        heading = "the live index differs from a fresh index of the final chain"
        raise AssertionError("\n".join([f"{heading}{': ' + context if context else ''}", *lines]))
